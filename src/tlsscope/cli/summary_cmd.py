"""`tlsscope summary DOMAIN`: a domain's TLS health in plain language, then the detail."""

from __future__ import annotations

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
from tlsscope.cli.store_cmds import WindowEndOption, empty_window, say


@app.command(short_help="Describe a domain's TLS health in plain language.")
def summary(
    domain: Annotated[str, typer.Argument(help="The policy domain (example.com).",
                                          show_default=False)],
    days: Annotated[int, typer.Option(min=1, help="Days back from --until.")] = 7,
    until: WindowEndOption = None,
    lang: LangOption = "en",
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Describe a domain's TLS health in a few sentences, then each problem in detail."""
    from rich.console import Console

    from tlsscope.analyze import catalog
    from tlsscope.app import freshness, stats
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli.render_summary import show_summary

    if lang not in catalog.languages():
        raise fail(f"--lang must be one of {', '.join(catalog.languages())}")
    first, last = day_window(until, days)
    report_domains = settings(config).report_domains
    with open_store(db, config) as store:
        numbers = stats.stats(store, OPERATOR, domain, first, last)
        freshness.findings_now(store, report_domains)  # as `findings` does
        found = stats.summary(store, OPERATOR, domain, first, last, lang, numbers)
        hint = None if numbers.reports else empty_window(store, domain, first, last)
    if as_json:
        print_json(found)
        return
    show_summary(Console(), found)
    if hint is not None:
        say(hint)
