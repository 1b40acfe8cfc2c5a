"""`tlsscope findings`: the problems the detectors find in the stored reports."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from tlsscope.cli.app import ConfigOption, DbOption, JsonOption, app, fail, open_store, print_json
from tlsscope.cli.explain_cmd import LangOption
from tlsscope.cli.store_cmds import DateOption

STATUSES = ("open", "resolved", "all")


@app.command()
def findings(
    domain: Annotated[str | None, typer.Option(help="One policy domain (else every domain).",
                                               show_default=False)] = None,
    status: Annotated[str, typer.Option(help="open, resolved or all.")] = "open",
    days: Annotated[int, typer.Option(min=1, help="Days of reports read, back from --until.")]
    = 30,
    until: DateOption = None,
    lang: LangOption = "en",
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List the problems found in the reports: kind, severity, where, since when, evidence."""
    from rich.console import Console

    from tlsscope.analyze import catalog
    from tlsscope.analyze.detectors import detect
    from tlsscope.cli.render_findings import show_findings

    if status not in STATUSES:
        raise fail(f"--status must be one of {', '.join(STATUSES)}")
    if lang not in catalog.languages():
        raise fail(f"--lang must be one of {', '.join(catalog.languages())}")
    last = until.date() if until else dt.datetime.now(dt.UTC).date()
    first = last - dt.timedelta(days=days - 1)
    found = []
    with open_store(db, config) as store:
        for name in [domain.lower()] if domain else store.domains(first, last):
            found.extend(detect(store.facts(name, first, last), lang))
    if status != "all":
        found = [f for f in found if f.status == status]
    if as_json:
        print_json(found)
    else:
        show_findings(Console(), found)
