"""How an explanation from the catalog is shown in the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from tlsscope.cli.sanitize import safe
from tlsscope.vocab import Severity

if TYPE_CHECKING:
    from rich.console import Console

    from tlsscope.analyze.catalog import Explanation

SEVERITY_STYLE = {Severity.CRITICAL: "bold red", Severity.HIGH: "red", Severity.MEDIUM: "yellow",
                  Severity.INFO: "cyan"}


def show_text(console: Console, text: str) -> None:
    console.print(Text(safe(text)))


def show_explanation(console: Console, e: Explanation, lang: str = "en") -> None:
    from tlsscope.analyze.catalog import label

    console.print(Text.assemble((safe(e.title), "bold"), f"  [{e.result_type}, {e.rfc}]"))
    console.print(Text.assemble((e.severity.upper(), SEVERITY_STYLE.get(e.severity, "")), " ",
                                safe(e.severity_text)))
    console.print(Text(safe(e.meaning)))
    console.print(Text.assemble((f"{label('effect', lang)}: ", "bold"), safe(e.effect)))
    if e.causes:
        console.print(Text(f"{label('causes', lang)}:", style="bold"))
        for number, cause in enumerate(e.causes, 1):
            console.print(Text(safe(f"  {number}. {cause.text}")))
            console.print(Text(safe(f"     {label('confirm', lang)}: {cause.confirm}"),
                               style="dim"))
    console.print(Text(f"{label('fix', lang)}:", style="bold"))
    for step in e.fix:
        console.print(Text(safe(f"  - {step}")))
