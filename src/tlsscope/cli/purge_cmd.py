"""`tlsscope purge`: the retention purge, now (serve does it once a day)."""

from __future__ import annotations

from typing import Annotated

import typer

from tlsscope.cli.app import ConfigOption, DbOption, JsonOption, app, open_store, print_json


@app.command("purge", short_help="Remove what is older than the retention limits, now.")
def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; remove "
                                          "nothing.")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove the reports, raw inputs and live checks older than their organisation's limits
    (else keep_reports_days, keep_inputs_days, keep_checks_days), recounting the roll-ups.
    Safe beside serve: each chunk is a short transaction of its own."""
    from tlsscope.app import retention
    from tlsscope.cli.app import settings

    loaded = settings(config)
    with open_store(db, config) as store:
        if dry_run:
            result = retention.purge(store, loaded, dry_run=True)
        else:
            result = retention.run_recorded(store, loaded, retention.now())
    if as_json:
        print_json(result)
        return
    said = "would remove" if dry_run else "removed"
    typer.echo(f"{said}: {result.reports} reports ({result.policies} policies, "
               f"{result.pairs} domain-days recounted), {result.inputs_deleted} raw inputs "
               f"(and the bytes of {result.inputs_emptied} more), {result.checks} checks")
