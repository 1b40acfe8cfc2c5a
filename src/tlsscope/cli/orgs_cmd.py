"""`tlsscope orgs` (also `tlsscope org`): the organisations (tenants): list them, rename one,
merge two, set their retention, export all of one's data, delete one with all its data."""

from __future__ import annotations

from pathlib import Path
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
                       "rename, merge, retention, export, delete.",
                       short_help="Organisations: list, rename, merge, export, delete.",
                       no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
app.add_typer(orgs_app, name="org", hidden=True)  # `tlsscope org export NAME DIR`


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


@orgs_app.command("retention", short_help="Show or set organisations' retention and privacy.")
def orgs_retention(
    name: Annotated[str | None, typer.Argument(help="The organisation to set (none: show "
                                               "every organisation's).", show_default=False)
                    ] = None,
    inputs_days: Annotated[int | None, typer.Option(
        "--inputs-days", help="Days raw inputs are kept (0: for ever; -1: the installation's "
        "keep_inputs_days).", show_default=False)] = None,
    reports_days: Annotated[int | None, typer.Option(
        "--reports-days", help="Days reports are kept (0: for ever; -1: the installation's).",
        show_default=False)] = None,
    checks_days: Annotated[int | None, typer.Option(
        "--checks-days", help="Days live checks are kept (0: for ever; -1: the "
        "installation's).", show_default=False)] = None,
    truncate_ips: Annotated[str | None, typer.Option(
        "--truncate-ips", help="Truncate sending IPs at intake: on, off, or default (the "
        "installation's truncate_sending_ips).", show_default=False)] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Show each organisation's retention (days kept, 0: for ever; * marks its own choice),
    or set one organisation's; the purge applies it (`tlsscope purge`, or serve daily)."""
    from tlsscope.app import accounts, retention
    from tlsscope.cli.app import settings as load
    from tlsscope.cli.sanitize import safe

    values: dict[str, object] = {}
    for key, days in (("keep_inputs_days", inputs_days), ("keep_reports_days", reports_days),
                      ("keep_checks_days", checks_days)):
        if days is not None:
            values[key] = None if days == -1 else days
    if truncate_ips is not None:
        choices = {"on": True, "off": False, "default": None}
        if truncate_ips not in choices:
            raise fail("--truncate-ips: on, off or default")
        values["truncate_sending_ips"] = choices[truncate_ips]
    if values and name is None:
        raise fail("name the organisation to set")
    with open_store(db, config) as store, refusals():
        if name is not None and values:
            retention.set_limits(store, accounts.existing_organisation(store, name), values)
        shown = [o for o in retention.organisations(store, load(config))
                 if name is None or o.organisation == name]
    if as_json:
        print_json(shown)
        return
    typer.echo("organisation\tinputs\treports\tchecks\ttruncate_ips")
    for o in shown:
        cells = [safe(o.organisation)]
        for key in ("keep_inputs_days", "keep_reports_days", "keep_checks_days"):
            mark = "*" if o.own[key] is not None else ""
            cells.append(f"{getattr(o, key)}{mark}")
        mark = "*" if o.own["truncate_sending_ips"] is not None else ""
        cells.append(("on" if o.truncate_sending_ips else "off") + mark)
        typer.echo("\t".join(cells))


@orgs_app.command("export", short_help="Export all of an organisation's data into a folder.")
def orgs_export(
    name: Annotated[str, typer.Argument(help="The organisation.", show_default=False)],
    folder: Annotated[Path, typer.Argument(help="The folder to write: new (made) or empty.",
                                           show_default=False, file_okay=False)],
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Write the organisation's data into FOLDER: its domains, users (no password hashes),
    alert rules, reports (RFC 8460 JSON, its domains' policies only), live checks, findings
    and raw inputs (README.txt in the folder says what each file holds). FOLDER must be new
    or empty (exit 2 otherwise); no file is written through a symbolic link."""
    from tlsscope.app import org_data
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli.sanitize import safe
    from tlsscope.errors import Invalid

    with open_store(db, config) as store, refusals(invalid=1):
        try:
            done = org_data.export_to_folder(store, OPERATOR, name, folder)
        except Invalid as exc:  # the folder is not empty: a usage error
            raise fail(safe(exc.message), 2) from None
        except OSError as exc:
            raise fail(f"cannot write {safe(folder)}: {safe(exc.strerror or exc)}", 1) from None
    if as_json:
        print_json(done._asdict())
        return
    typer.echo(f"{safe(name)}: {done.reports} reports, {done.checks} checks, {done.findings} "
               f"findings, {done.raw_files} raw inputs ({done.withheld_inputs} withheld: also "
               f"about other organisations) written to {safe(folder)}")


@orgs_app.command("delete", short_help="Delete an organisation and all its data.")
def orgs_delete(
    name: Annotated[str, typer.Argument(help="The organisation.", show_default=False)],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask to type the name first.")
                   ] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete the organisation with its domains' reports (a report that also covers another
    organisation's domain keeps that one's policies), raw inputs, live checks, findings,
    alert rules, users, tokens and sessions; the roll-ups stay equal to a recount. Asks to
    type the name first, unless --yes. Cannot be undone: `tlsscope orgs export` first."""
    from tlsscope.app import accounts, org_data
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli.sanitize import safe

    with open_store(db, config) as store, refusals(invalid=1):
        accounts.existing_organisation(store, name)
        if not yes:
            typed = typer.prompt(f"Type the organisation's name ({safe(name)}) to delete it "
                                 "and all its data", default="", show_default=False)
            if typed != name:
                raise fail("the name typed does not match; nothing deleted", 1)
        done = org_data.delete(store, OPERATOR, name)
    if as_json:
        print_json(done._asdict())
        return
    typer.echo(f"{safe(name)} deleted: {done.domains} domains, {done.reports} reports, "
               f"{done.checks} checks, {done.users} users, {done.alert_rules} alert rules")


from tlsscope.cli import purge_cmd  # noqa: E402, F401  (registers `tlsscope purge`)
