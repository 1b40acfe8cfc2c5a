"""`tlsscope jobs`: which node of a fleet does which background job now, and the re-check
queue at a glance."""

from __future__ import annotations

import typer

from tlsscope.cli.app import ConfigOption, DbOption, JsonOption, app, open_store, print_json
from tlsscope.cli.app import settings as load


@app.command(short_help="Which node does which background job now.")
def jobs(as_json: JsonOption = False, db: DbOption = None, config: ConfigOption = None) -> None:
    """The leases of the jobs one node of a fleet does at a time (the analyst, each IMAP
    mailbox, the retention purge): who holds each, since when, until when (a lease past its
    time is free: its node stopped renewing it); and the re-check queue: domains in it,
    failing ones waiting for a check, due now, claimed by a node now."""
    from tlsscope.app.lease import held_now
    from tlsscope.app.recheck import Rechecker
    from tlsscope.cli.sanitize import safe

    with open_store(db, config) as store:
        held = held_now(store)
        queue = Rechecker(store, load(config)).queue()
    if as_json:
        print_json({"leases": held, "rechecks": queue})
        return
    for lease in held:
        state = "held" if lease.current else "expired"
        typer.echo(f"{safe(lease.job)}\t{safe(lease.holder)}\t{state}\tsince "
                   f"{lease.since:%Y-%m-%d %H:%M:%S}\tuntil {lease.expires:%H:%M:%S} UTC")
    if not held:
        typer.echo("no leases: no serve node has taken a job yet")
    typer.echo("re-checks: " + ", ".join(f"{value} {name}" for name, value in queue.items()))
