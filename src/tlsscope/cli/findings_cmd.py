"""`tlsscope findings`: the problems the detectors find in the stored reports."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from tlsscope.cli.app import (
    ConfigOption,
    DbOption,
    JsonOption,
    app,
    day_window,
    fail,
    open_store,
    print_json,
    settings,
)
from tlsscope.cli.explain_cmd import LangOption


@app.command(short_help="List the problems found in the stored reports.")
def findings(
    domain: Annotated[str | None, typer.Option(help="One policy domain (else every domain).",
                                               show_default=False)] = None,
    status: Annotated[str, typer.Option(
        help="open (not resolved, including likely-fixed), likely-fixed (a live check "
        "passes now), resolved or all.")] = "open",
    days: Annotated[int, typer.Option(
        min=1, help="With --until: days of reports read, back from --until.")] = 30,
    until: Annotated[dt.datetime | None, typer.Option(
        formats=["%Y-%m-%d"], show_default=False,
        help="Compute the findings as of this day, from the reports, without storing them "
        "(no history). Without it: the stored findings, brought up to date first.")] = None,
    lang: LangOption = "en",
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List the problems found in the reports: kind, severity, where, since when, evidence."""
    from rich.console import Console

    from tlsscope.analyze import catalog
    from tlsscope.app import findings as stored
    from tlsscope.app import freshness
    from tlsscope.cli.render_findings import show_findings

    if status not in stored.STATUSES:
        raise fail(f"--status must be one of {', '.join(stored.STATUSES)}")
    if lang not in catalog.languages():
        raise fail(f"--lang must be one of {', '.join(catalog.languages())}")
    report_domains = settings(config).report_domains
    with open_store(db, config) as store:
        if until is None:
            freshness.findings_now(store, report_domains)
            found = stored.with_history(store, domain, lang, status)
        else:
            found = [(f, []) for f in stored.as_of(store, domain, *day_window(until, days),
                                                   lang, report_domains, status)]
    if as_json:
        import msgspec

        print_json([{**msgspec.to_builtins(f), "history": msgspec.to_builtins(h)}
                    for f, h in found])
    else:
        show_findings(Console(), [f for f, _ in found])
