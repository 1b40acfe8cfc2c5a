"""`tlsscope orgs`: the organisations (tenants): list them, rename one, merge two."""

from __future__ import annotations

from typing import Annotated

import typer

from tlsscope.cli.app import (
    ConfigOption,
    DbOption,
    JsonOption,
    app,
    fail,
    open_store,
    print_json,
    refusals,
)

orgs_app = typer.Typer(help="Organisations (tenants), which own domains and have users: list, "
                       "rename, merge.", short_help="Organisations: list, rename, merge.",
                       no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")


@orgs_app.command("list", short_help="List the organisations, their domains and users.")
def orgs_list(as_json: JsonOption = False, db: DbOption = None,
              config: ConfigOption = None) -> None:
    """List the organisations with how many domains and users each has."""
    from tlsscope.app import accounts
    from tlsscope.cli.sanitize import safe

    with open_store(db, config) as store:
        found = accounts.organisations(store)
        domains = accounts.domains(store)
        users = accounts.users(store)
    rows = [{"organisation": name,
             "domains": sum(1 for d in domains if d.organisation == org_id),
             "users": sum(1 for u in users if u.organisation == org_id)}
            for org_id, name in found]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo("\t".join(safe(str(row[key])) for key in ("organisation", "domains", "users")))


@orgs_app.command("rename", short_help="Rename an organisation.")
def orgs_rename(
    name: Annotated[str, typer.Argument(help="Its name now.", show_default=False)],
    new_name: Annotated[str, typer.Argument(help="Its new name (not taken).",
                                            show_default=False)],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Rename an organisation; its domains and users stay with it."""
    from tlsscope.app import accounts

    if not new_name.strip():
        raise fail("the new name is empty", 1)
    with open_store(db, config) as store, refusals(invalid=1):
        accounts.rename_organisation(store, accounts.existing_organisation(store, name),
                                     new_name.strip())
    typer.echo(f"{name} is now {new_name.strip()}")


@orgs_app.command("merge", short_help="Merge one organisation into another.")
def orgs_merge(
    source: Annotated[str, typer.Argument(help="The organisation that goes away.",
                                          show_default=False)],
    target: Annotated[str, typer.Argument(help="The one that gets its domains and users.",
                                          show_default=False)],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Move every domain and user of SOURCE to TARGET, then remove SOURCE."""
    from tlsscope.app import accounts

    with open_store(db, config) as store, refusals(invalid=1):
        accounts.merge_organisations(store, accounts.existing_organisation(store, source),
                                     accounts.existing_organisation(store, target))
    typer.echo(f"{source} merged into {target}")
