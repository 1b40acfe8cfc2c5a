"""How a domain summary is shown in the terminal (every report string escaped)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from tlsscope.cli.render_explain import SEVERITY_STYLE
from tlsscope.cli.sanitize import safe

if TYPE_CHECKING:
    from rich.console import Console

    from tlsscope.analyze.summary import HealthSummary


def show_summary(console: Console, found: HealthSummary) -> None:
    from tlsscope.analyze.catalog import label

    for sentence in found.sentences:
        console.print(Text(safe(sentence)))
    if not found.problems:
        return
    table = Table(title=label("problems", found.lang), title_justify="left")
    for column in ("severity", "sessions", "MX", "result type", "reporters", "first", "last"):
        table.add_column(column, justify="right" if column == "sessions" else "left")
    for p in found.problems:
        severity = p.severity if p.confirmed else \
            f"{p.severity} ({label('unconfirmed', found.lang)})"
        table.add_row(Text(severity, style=SEVERITY_STYLE.get(p.severity, "")),
                      str(p.sessions), Text(safe(p.mx_host or "-")), Text(safe(p.result_type)),
                      Text(safe(", ".join(p.reporters))), p.first_day.isoformat(),
                      p.last_day.isoformat())
    console.print(table)
    console.print(Text(f"{label('largest_fix', found.lang)}:", style="bold"))
    for step in found.problems[0].fix:
        console.print(Text(safe(f"  - {step}")))
