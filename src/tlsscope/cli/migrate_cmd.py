"""`tlsscope migrate`: bring the database's schema up to this tlsscope's, as its own step."""

from __future__ import annotations

from typing import Annotated

import typer

from tlsscope.cli.app import ConfigOption, DbOption, app, fail, settings


@app.command(short_help="Bring the database's schema up to this tlsscope's.")
def migrate(
    check: Annotated[bool, typer.Option(
        "--check", help="Only say whether the schema is current: exit 0 if it is, 1 if it "
        "needs migrating, 2 if it is newer than this tlsscope.")] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Apply the schema migrations this tlsscope ships, under a lock (safe while nodes run
    and with two migrations started at once). On a fleet, set migrate_on_start = false on
    the nodes and run this once per upgrade, before the new version's nodes start: they wait
    for it (schema_wait_seconds), and a node with an older tlsscope refuses a newer schema.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from tlsscope.errors import MissingExtra
    from tlsscope.store import migrate as schema
    from tlsscope.store.engine import default_url, make_engine

    loaded = settings(config)
    url = db or loaded.database_url or default_url()
    try:
        engine = make_engine(url)
    except (MissingExtra, ValueError) as exc:
        raise fail(str(exc)) from None
    try:
        before = schema.stored_revision(engine)
        newer = before is not None and before not in schema.known_revisions()
        if newer:
            assert before is not None
            typer.echo(schema.unknown(before))
            raise typer.Exit(2)
        if check:
            state = "current" if before == schema.HEAD else "needs migrating"
            typer.echo(f"schema at {before or 'none (empty database)'}; this tlsscope's is "
                       f"{schema.HEAD}: {state}")
            raise typer.Exit(0 if before == schema.HEAD else 1)
        found = schema.upgrade(engine)  # as found under the lock: another may have been first
        typer.echo(f"schema at {schema.HEAD}" + (f" (was {found or 'none'})"
                                                 if found != schema.HEAD else " already"))
    except SQLAlchemyError as exc:
        raise fail(f"cannot migrate: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()
