"""`tlsscope audit`: the audit log (who did what, when, from where), newest first."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from tlsscope.cli.app import (
    ConfigOption,
    DbOption,
    JsonOption,
    app,
    open_store,
    print_json,
    refusals,
)
from tlsscope.vocab import MAX_ROW_ID


@app.command(short_help="The audit log: who did what, when, from where.")
def audit(
    limit: Annotated[int, typer.Option(min=1, max=1_000,
                                       help="Entries shown at most, newest first.")] = 100,
    action: Annotated[str, typer.Option(
        help="Only this action (login.failed) or family (login: login.succeeded and "
        "login.failed).", show_default=False)] = "",
    since: Annotated[dt.datetime | None, typer.Option(
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], show_default=False,
        help="Only entries from this day (UTC), or this time (UTC).")] = None,
    before: Annotated[int | None, typer.Option(
        min=1, max=MAX_ROW_ID, show_default=False,
        help="Only entries older than this id (the next page of a long listing).")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List the audit log, newest first: logins (succeeded and failed) and logouts, users,
    organisations, domains, API tokens and alert rules made, changed or removed, exports,
    deletions and retention changes; with who (an email, cli:<os user>, system), when
    (UTC), from where (the client's address, or cli) and what. One tab-separated line each:
    id, time, who, from, action, what, details."""
    from tlsscope.app import audit as audit_log
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli.sanitize import safe

    with open_store(db, config) as store, refusals():
        found = audit_log.entries(store, OPERATOR, limit, action=action,
                                  since=since.replace(tzinfo=dt.UTC) if since else None,
                                  before=before)
    if as_json:
        print_json(found)
        return
    for e in found:
        detail = " ".join(f"{key}={_shown(value)}" for key, value in e.detail.items())
        typer.echo("\t".join(safe(cell) for cell in (
            e.id, e.at.strftime("%Y-%m-%dT%H:%M:%SZ"), e.actor, e.address or "-", e.action,
            e.target or "-", detail or "-")))


def _shown(value: object) -> str:
    import msgspec

    return value if isinstance(value, str) else msgspec.json.encode(value).decode()
