"""How findings are shown in the terminal (every report string escaped)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from tlsscope.cli.render_explain import SEVERITY_STYLE
from tlsscope.cli.sanitize import safe
from tlsscope.live_check import Verdict

if TYPE_CHECKING:
    from rich.console import Console

    from tlsscope.analyze.detectors import DomainFinding


def show_findings(console: Console, found: list[DomainFinding]) -> None:
    if not found:
        console.print("No findings.")
        return
    for f in found:
        where = " ".join(x for x in (f.domain, f.mx_host, f.receiving_ip) if x)
        console.print(Text.assemble(
            (f.severity.upper(), SEVERITY_STYLE.get(f.severity, "")), f" [{f.status}] ",
            ("" if f.confirmed else "[unconfirmed] ", "yellow"),
            (safe(f.title), "bold"),
            f"  ({', '.join(safe(x) for x in (f.kind, f.result_type) if x)})"))
        console.print(Text(safe(
            f"  {where}: {f.sessions:,} sessions, {f.first_seen} .. {f.last_seen}, seen by "
            f"{', '.join(f.reporters)} ({len(f.evidence)} report(s) kept as evidence)")))
        console.print(Text(safe(f"  {f.explanation}")))
        if f.live is not None:
            styles: dict[str, str] = {Verdict.CONFIRMED: "red", Verdict.CONTRADICTED: "green"}
            style = styles.get(f.live.verdict, "yellow")
            console.print(Text(safe(f"  {f.live.summary}"), style=style))
            for detail in f.live.details[:5]:
                console.print(Text(safe(f"    {detail}"), style="dim"))
        for step in f.fix:
            console.print(Text(safe(f"  - {step}")))
