"""`tlsscope digest`: the digest of the last complete day, week or month, sent through the
smtp_url relay or written to a folder to look at (serve sends them on schedule)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tlsscope.cli.app import ConfigOption, DbOption, app, fail, open_store, refusals, settings


@app.command(short_help="Send (or preview) the digest of the last day, week or month.")
def digest(
    org: Annotated[str | None, typer.Option(
        help="The organisation whose domains it sums up (default: every domain, for the "
        "admins and the installation's alert rules).", show_default=False)] = None,
    period: Annotated[str, typer.Option(help="day | week | month: the last complete one "
                                        "(yesterday, last Monday to Sunday, last month; "
                                        "UTC).")] = "week",
    send: Annotated[bool, typer.Option("--send", help="Send it through the smtp_url relay "
                                       "and print who it went to.")] = False,
    to: Annotated[list[str] | None, typer.Option(
        "--to", help="With --send: to this address (repeatable) instead of the subscribed "
        "users and the alert rules' addresses. Unsubscribed addresses are skipped.",
        show_default=False)] = None,
    preview: Annotated[Path | None, typer.Option(
        "--preview", help="Write each digest to this folder as <recipient>.eml, .html and "
        ".txt (<organisation>.* when nobody gets it) and send nothing.", file_okay=False,
        show_default=False)] = None,
    lang: Annotated[str | None, typer.Option(
        help="en | pt (default: each recipient's language, else en).", show_default=False)
        ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """The digest: for each domain the plain-language summary, the success rate and its
    trend on the period before, the problems found and resolved, what to do first, and a
    chart of the days. Without --to it goes to the users who subscribed to this period
    (tlsscope users digest) and to the addresses of the alert rules, less those who
    unsubscribed. Exit 1 when a mail was not sent."""
    from tlsscope.alert import digest as digests
    from tlsscope.alert.words import LANGS
    from tlsscope.cli.sanitize import safe

    if send == (preview is not None):
        raise fail("give one of --send or --preview DIR")
    if to and not send:
        raise fail("--to is for --send")
    if period not in digests.PERIODS:
        raise fail(f"--period must be one of {', '.join(digests.PERIODS)}")
    if lang is not None and lang not in LANGS:
        raise fail(f"--lang must be one of {', '.join(LANGS)}")
    values = settings(config)
    if send and not values.smtp_url:
        raise fail("no smtp_url is set: digests cannot be sent (set smtp_url in the settings "
                   "or TLSSCOPE_SMTP_URL, or use --preview DIR)")
    if send and not values.public_url:
        typer.echo("Warning: public_url is not set: the digest has no unsubscribe or "
                   "dashboard link", err=True)
    with open_store(db, config) as store, refusals():
        prepared = digests.prepare(store, values, org, period, to or None, lang)
        if preview is not None:
            try:
                written = digests.preview(prepared, preview)
            except OSError as exc:
                where = exc.filename or preview
                raise fail(f"cannot write the preview to {safe(str(where))}: "
                           f"{exc.strerror or exc}") from None
            for path in written:
                typer.echo(safe(str(path)))
            return
        going = [item for item in prepared if item.to]
        skipped = sorted({a.strip().lower() for a in to or []}
                         - {item.to.lower() for item in going})
        for address in skipped:
            typer.echo(f"skipped {safe(address)}: it unsubscribed from the digest", err=True)
        if not going:
            typer.echo("nobody to send the digest to: no user subscribed to it and no alert "
                       "rule has an address (or they unsubscribed); --to ADDRESS sends it",
                       err=True)
            return
        outcomes = digests.send(store, values, going)
    for item, outcome in zip(going, outcomes, strict=True):
        if outcome.delivered:
            typer.echo(f"sent to {safe(outcome.to)}: {safe(str(item.message['Subject']))}")
        else:
            typer.echo(f"not sent to {safe(outcome.to)}: {safe(outcome.error)}", err=True)
    if not all(outcome.delivered for outcome in outcomes):
        raise typer.Exit(1)
