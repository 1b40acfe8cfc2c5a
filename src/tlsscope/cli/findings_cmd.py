"""`tlsscope findings`: the problems the detectors find in the stored reports."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    from tlsscope.analyze.detectors import DomainFinding
    from tlsscope.store import Store

STATUSES = ("open", "likely-fixed", "resolved", "all")


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
    from tlsscope.cli.render_findings import show_findings

    if status not in STATUSES:
        raise fail(f"--status must be one of {', '.join(STATUSES)}")
    if lang not in catalog.languages():
        raise fail(f"--lang must be one of {', '.join(catalog.languages())}")
    report_domains = settings(config).report_domains
    with open_store(db, config) as store:
        if until is None:
            found = _stored(store, domain, lang, report_domains)
        else:
            found = [(f, []) for f in _as_of(store, domain, *day_window(until, days), lang,
                                             report_domains)]
    if status == "open":
        found = [(f, h) for f, h in found if f.status != "resolved"]
    elif status != "all":
        found = [(f, h) for f, h in found if f.status == status]
    if as_json:
        import msgspec

        print_json([{**msgspec.to_builtins(f), "history": msgspec.to_builtins(h)}
                    for f, h in found])
    else:
        show_findings(Console(), [f for f, _ in found])


def _as_of(store: Store, domain: str | None, first: dt.date, last: dt.date, lang: str,
           report_domains: list[str]) -> list[DomainFinding]:
    from tlsscope.analyze.confirm import weigh
    from tlsscope.analyze.detectors import detect

    out: list[DomainFinding] = []
    for name in [domain.lower()] if domain else store.domains(first, last):
        facts = store.facts(name, first, last)
        found = detect(facts, lang, report_domains)
        weigh(found, facts, lang)
        out.extend(found)
    return out


def _stored(store: Store, domain: str | None, lang: str,
            report_domains: list[str]) -> list[tuple[DomainFinding, list[dict[str, Any]]]]:
    from tlsscope.store.findings_rows import localized

    store.refresh_findings(report_domains=report_domains)
    out: list[tuple[DomainFinding, list[dict[str, Any]]]] = []
    for name in [domain.lower()] if domain else store.finding_domains():
        history = store.finding_history(name)
        for _, key, finding in store.read(localized, name, lang):
            out.append((finding, history.get(key, [])))
    return out
