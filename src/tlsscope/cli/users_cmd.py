"""`tlsscope users`, `tlsscope domains` and `tlsscope demo`: accounts, tenancy, sample data."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tlsscope.cli.app import ConfigOption, DbOption, JsonOption, app, fail, open_store, print_json

users_app = typer.Typer(help="Dashboard users: add them, list them, set passwords, make API "
                        "tokens.", short_help="Dashboard users, their passwords and API tokens.",
                        no_args_is_help=True)
domains_app = typer.Typer(help="Which organisation owns which domain.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(domains_app, name="domains")

PasswordOption = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from standard input (else it is asked for, "
    "hidden).")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="The login (an email address).",
                                         show_default=False)],
    role: Annotated[str, typer.Option(help="admin (sees every domain), member or readonly "
                                      "(see their organisation's domains).")] = "member",
    organisation: Annotated[str, typer.Option(
        help="The organisation (tenant) a member or read-only user belongs to; created if "
        "new.")] = "",
    lang: Annotated[str, typer.Option(help="en or pt; empty: the browser's.")] = "",
    password_stdin: PasswordOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a user (passwords are stored as argon2id hashes)."""
    from tlsscope.web.tools import add_user

    password = _password(password_stdin)
    with open_store(db, config) as store:
        try:
            add_user(store, email, password, role, organisation, lang)
        except ValueError as exc:
            raise fail(str(exc), 1) from None
    typer.echo(f"added {email} ({role}{', ' + organisation if organisation else ''})")


@users_app.command("list")
def users_list(as_json: JsonOption = False, db: DbOption = None,
               config: ConfigOption = None) -> None:
    """List the users, their role and organisation."""
    from tlsscope.cli.sanitize import safe
    from tlsscope.store import accounts

    with open_store(db, config) as store:
        found = store.read(accounts.users)
    if as_json:
        print_json([{"email": u.email, "role": u.role, "organisation": u.organisation_name,
                     "lang": u.lang} for u in found])
        return
    for u in found:
        typer.echo("\t".join(safe(cell) for cell in (u.email, u.role, u.organisation_name or "-")))


@users_app.command("password")
def users_password(
    email: Annotated[str, typer.Argument(help="The user's email.", show_default=False)],
    password_stdin: PasswordOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Set a user's password (their sessions end)."""
    from tlsscope.store import accounts
    from tlsscope.web.auth import hash_password
    from tlsscope.web.tools import MIN_PASSWORD

    password = _password(password_stdin)
    if len(password) < MIN_PASSWORD:
        raise fail(f"password: at least {MIN_PASSWORD} characters", 1)
    with open_store(db, config) as store:
        found = store.read(accounts.login_row, email)
        if found is None:
            raise fail(f"no user {email!r}", 1)
        store.write(accounts.set_password, found[0].id, hash_password(password))
    typer.echo(f"password of {email} changed")


@users_app.command("token", short_help="Make an API token (shown once).")
def users_token(
    email: Annotated[str, typer.Argument(help="The user the token acts as.",
                                         show_default=False)],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Make an API token (printed once; use it as Authorization: Bearer TOKEN)."""
    from tlsscope.store import accounts
    from tlsscope.web.auth import new_token

    with open_store(db, config) as store:
        found = store.read(accounts.login_row, email)
        if found is None:
            raise fail(f"no user {email!r}", 1)
        typer.echo(new_token(store, found[0], name))


@domains_app.command("assign", short_help="Give a domain to an organisation, or take it.")
def domains_assign(
    domain: Annotated[str, typer.Argument(help="The domain (example.com).",
                                          show_default=False)],
    organisation: Annotated[str, typer.Option(
        help="Its owner; empty: unassigned (visible to admins only).")] = "",
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Give a domain to an organisation (created if new), or take it away."""
    from tlsscope.web.tools import assign

    name = domain.strip().lower().rstrip(".")
    if "." not in name:
        raise fail(f"{domain!r} is not a domain name", 1)
    with open_store(db, config) as store:
        assign(store, name, organisation.strip())
    typer.echo(f"{name}: {organisation.strip() or 'unassigned'}")


@domains_app.command("list")
def domains_list(as_json: JsonOption = False, db: DbOption = None,
                 config: ConfigOption = None) -> None:
    """Every domain (with reports, or added) and its organisation."""
    from tlsscope.cli.sanitize import safe
    from tlsscope.store import accounts

    with open_store(db, config) as store:
        found = store.read(accounts.all_domains)
    if as_json:
        print_json([{"domain": d.name, "organisation": d.organisation_name} for d in found])
        return
    for d in found:
        typer.echo("\t".join(safe(cell) for cell in (d.name, d.organisation_name or "-")))


DEMO_USERS = (("admin@demo.example", "admin", "", "tlsscope-admin"),
              ("ana@acme.example", "member", "Acme Retail", "tlsscope-acme"),
              ("bruno@beta.example", "readonly", "Beta Health", "tlsscope-beta"))
DEMO_OWNERS = {"shop.example": "Acme Retail", "news.example": "Acme Retail",
               "clinic.example": "Beta Health"}


@app.command(short_help="Load sample reports and demo users (for make run).")
def demo(
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Load six weeks of sample reports for four domains (once), with demo users, and say how
    to log in. For `make run`; do not use the demo passwords anywhere else."""
    import datetime as dt

    from tlsscope.cli.app import settings
    from tlsscope.demo import raw_inputs
    from tlsscope.pipeline import ingest
    from tlsscope.store import accounts
    from tlsscope.web.tools import add_user, assign

    loaded = settings(config)
    with open_store(db, config) as store:
        if not store.reports(limit=1):
            totals = ingest(store, raw_inputs(dt.datetime.now(dt.UTC).date()), loaded)
            typer.echo(f"sample data: {totals.reports_stored} reports stored, "
                       f"{totals.rejected} input(s) in quarantine")
            store.refresh_findings(report_domains=loaded.report_domains)
        known = {u.email for u in store.read(accounts.users)}
        for email, role, organisation, password in DEMO_USERS:
            if email not in known:
                add_user(store, email, password, role, organisation)
        for domain, organisation in DEMO_OWNERS.items():
            assign(store, domain, organisation)
    scheme = "https" if loaded.tls_cert else "http"
    host, _, port = loaded.listen.rpartition(":")
    shown = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "::": "[::1]"}.get(host, host)
    typer.echo(f"log in at {scheme}://{shown}:{port} (serve listens on {loaded.listen}) as:")
    for email, role, organisation, password in DEMO_USERS:
        owner = f", {organisation}" if organisation else ""
        typer.echo(f"  {email} / {password}   ({role}{owner})")
