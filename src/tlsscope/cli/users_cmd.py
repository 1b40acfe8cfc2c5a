"""`tlsscope users`, `tlsscope domains` and `tlsscope demo`: accounts, tenancy, sample data.
Organisations are `tlsscope orgs` (orgs_cmd.py)."""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING, Annotated

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
    row_id,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tlsscope.app.accounts import User
    from tlsscope.store import Store

users_app = typer.Typer(help="Dashboard users: add, list, disable, delete, change their role "
                        "or organisation, set passwords, make, list and revoke API tokens.",
                        short_help="Dashboard users, their passwords and API tokens.",
                        no_args_is_help=True)
domains_app = typer.Typer(help="Which organisation owns which domain.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(domains_app, name="domains")

PasswordOption = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from standard input (else it is asked for, "
    "hidden).")]


EmailArgument = Annotated[str, typer.Argument(help="The user's email.", show_default=False)]


def _user(store: Store, email: str) -> User:
    from tlsscope.app import accounts

    with refusals():
        return accounts.user(store, email)


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
    from tlsscope.app import accounts

    password = _password(password_stdin)
    with open_store(db, config) as store, refusals(invalid=1):
        accounts.add_user(store, email, password, role, organisation, lang)
    typer.echo(f"added {email} ({role}{', ' + organisation if organisation else ''})")


@users_app.command("list", short_help="List the users, their role and organisation.")
def users_list(as_json: JsonOption = False, db: DbOption = None,
               config: ConfigOption = None) -> None:
    """List the users, their role and organisation, and whether they are disabled."""
    from tlsscope.app import accounts
    from tlsscope.cli.sanitize import safe

    with open_store(db, config) as store:
        found = accounts.users(store)
    if as_json:
        print_json([{"email": u.email, "role": u.role, "organisation": u.organisation_name,
                     "lang": u.lang, "disabled": u.disabled} for u in found])
        return
    for u in found:
        typer.echo("\t".join(safe(cell) for cell in (
            u.email, u.role, u.organisation_name or "-", *(["disabled"] if u.disabled else []))))


@users_app.command("password")
def users_password(
    email: Annotated[str, typer.Argument(help="The user's email.", show_default=False)],
    password_stdin: PasswordOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Set a user's password (their sessions and API tokens end)."""
    from tlsscope.app import accounts

    password = _password(password_stdin)
    if len(password) < accounts.MIN_PASSWORD:  # before the database is opened
        raise fail(f"password: at least {accounts.MIN_PASSWORD} characters", 1)
    with open_store(db, config) as store, refusals(invalid=1):
        accounts.set_password(store, email, password)
    typer.echo(f"password of {email} changed")


@users_app.command("token", short_help="Make an API token (shown once).")
def users_token(
    email: Annotated[str, typer.Argument(help="The user the token acts as.",
                                         show_default=False)],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    scope: Annotated[str, typer.Option(
        help="read (GET only), write (also live checks and re-reading) or admin (also "
        "accounts and tokens); never more than the user's role allows.")] = "read",
    expires_days: Annotated[int | None, typer.Option(
        help="Days until the token stops working; default: never.", show_default=False)
        ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Make an API token (printed once; use it as Authorization: Bearer TOKEN)."""
    from tlsscope.app import accounts

    with open_store(db, config) as store, refusals(invalid=1):
        who = accounts.user(store, email)
        if who.disabled:
            raise fail(f"no user {email!r} (or disabled)", 1)
        typer.echo(accounts.new_token(store, who, name, scope, expires_days))


@users_app.command("tokens", short_help="List a user's API tokens, or everyone's.")
def users_tokens(
    email: Annotated[str, typer.Argument(help="The user; empty: every user's tokens.",
                                         show_default=False)] = "",
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List API tokens: id, name, scope, owner, created, last used, expiry (never the
    token itself, which is stored hashed)."""
    from tlsscope.app import accounts
    from tlsscope.cli.sanitize import safe

    def day(value: dt.datetime | None) -> str:
        return value.isoformat(timespec="minutes") if value else "-"

    with open_store(db, config) as store:
        found = accounts.tokens(store, _user(store, email) if email else None)
    if as_json:
        print_json([{"id": t.id, "name": t.name, "scope": t.scope, "email": t.email,
                     "created_at": t.created_at, "last_used_at": t.last_used_at,
                     "expires_at": t.expires_at} for t in found])
        return
    for t in found:
        typer.echo("\t".join(safe(cell) for cell in (
            str(t.id), t.name, t.scope, t.email, day(t.created_at), day(t.last_used_at),
            day(t.expires_at))))


@users_app.command("revoke", short_help="Revoke an API token by its id.")
def users_revoke(
    token_id: Annotated[int, row_id("The token's id (tlsscope users tokens).")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke an API token (any user's): it stops working at once."""
    from tlsscope.app import accounts

    with open_store(db, config) as store, refusals():
        accounts.revoke(store, None, token_id)
    typer.echo(f"token {token_id} revoked")


def _change_user(email: str, db: str | None, config: Path | None, done: str,
                 change: Callable[[Store, User], None]) -> None:
    """One change to the user `email` (a function of tlsscope.app.accounts)."""
    with open_store(db, config) as store:
        change(store, _user(store, email))
    typer.echo(f"{email} {done}")


@users_app.command("disable", short_help="Disable a user: no login, sessions and tokens end.")
def users_disable(email: EmailArgument, db: DbOption = None,
                  config: ConfigOption = None) -> None:
    """Disable a user: they cannot log in, and their sessions and API tokens end."""
    from tlsscope.app import accounts

    _change_user(email, db, config, "disabled",
                 lambda store, who: accounts.set_disabled(store, who, True))


@users_app.command("enable", short_help="Let a disabled user log in again.")
def users_enable(email: EmailArgument, db: DbOption = None,
                 config: ConfigOption = None) -> None:
    """Let a disabled user log in again (their old tokens stay revoked)."""
    from tlsscope.app import accounts

    _change_user(email, db, config, "enabled",
                 lambda store, who: accounts.set_disabled(store, who, False))


@users_app.command("delete", short_help="Delete a user, their sessions and tokens.")
def users_delete(email: EmailArgument, db: DbOption = None,
                 config: ConfigOption = None) -> None:
    """Delete a user, with their sessions and API tokens."""
    from tlsscope.app import accounts

    _change_user(email, db, config, "deleted", accounts.delete_user)


@users_app.command("role", short_help="Change a user's role.")
def users_role(
    email: EmailArgument,
    role: Annotated[str, typer.Argument(help="admin, member or readonly.",
                                        show_default=False)],
    organisation: Annotated[str | None, typer.Option(
        help="Also move them to this organisation (created if new); default: theirs.",
        show_default=False)] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Change a user's role (a member or read-only user needs an organisation)."""
    from tlsscope.app import accounts

    with open_store(db, config) as store, refusals(invalid=1):
        accounts.set_role(store, _user(store, email), role, organisation)
    typer.echo(f"{email}: {role}")


@users_app.command("move", short_help="Move a user to another organisation.")
def users_move(
    email: EmailArgument,
    organisation: Annotated[str, typer.Argument(
        help="The organisation (created if new); empty: none (admins only).",
        show_default=False)],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Move a user to another organisation: they see its domains from their next request."""
    from tlsscope.app import accounts

    with open_store(db, config) as store, refusals(invalid=1):
        user = _user(store, email)
        accounts.set_role(store, user, user.role, organisation.strip())
    typer.echo(f"{email}: {organisation.strip() or 'no organisation'}")


@users_app.command("digest", short_help="Subscribe a user to the digest, or not.")
def users_digest(
    email: EmailArgument,
    period: Annotated[str, typer.Argument(
        help="day, week or month: the digest they get (serve sends it at digest_hour UTC: "
        "daily, on digest_weekday, on the 1st); none: no digest.", show_default=False)],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Subscribe a user to the daily, weekly or monthly digest of the domains they see
    (an admin: every domain), in their language; `none` unsubscribes them."""
    from tlsscope.alert import digest
    from tlsscope.app.scope import OPERATOR

    if period not in (*digest.PERIODS, "none"):
        raise fail(f"period must be one of {', '.join(digest.PERIODS)} or none", 1)
    with open_store(db, config) as store, refusals(invalid=1):
        digest.subscribe(store, OPERATOR, _user(store, email).id,
                         "" if period == "none" else period)
    typer.echo(f"{email}: digest {period}")


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
    from tlsscope.app import accounts

    with open_store(db, config) as store, refusals(invalid=1):
        name = accounts.assign(store, domain, organisation.strip())
    typer.echo(f"{name}: {organisation.strip() or 'unassigned'}")


@domains_app.command("list")
def domains_list(as_json: JsonOption = False, db: DbOption = None,
                 config: ConfigOption = None) -> None:
    """Every domain (with reports, or added) and its organisation."""
    from tlsscope.app import accounts
    from tlsscope.cli.sanitize import safe

    with open_store(db, config) as store:
        found = accounts.domains(store)
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

    from tlsscope.app import accounts, ingest, stats
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli.app import settings
    from tlsscope.demo import raw_inputs

    loaded = settings(config)
    with open_store(db, config) as store:
        if stats.last_report_day(store, OPERATOR, None) is None:
            totals = ingest.load(store, raw_inputs(dt.datetime.now(dt.UTC).date()), loaded,
                                 findings=True)
            typer.echo(f"sample data: {totals.reports_stored} reports stored, "
                       f"{totals.rejected} input(s) in quarantine")
        known = {u.email for u in accounts.users(store)}
        for email, role, organisation, password in DEMO_USERS:
            if email not in known:
                accounts.add_user(store, email, password, role, organisation)
        for domain, organisation in DEMO_OWNERS.items():
            accounts.assign(store, domain, organisation)
    scheme = "https" if loaded.tls_cert else "http"
    host, _, port = loaded.listen.rpartition(":")
    shown = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "::": "[::1]"}.get(host, host)
    typer.echo(f"log in at {scheme}://{shown}:{port} (serve listens on {loaded.listen}) as:")
    for email, role, organisation, password in DEMO_USERS:
        owner = f", {organisation}" if organisation else ""
        typer.echo(f"  {email} / {password}   ({role}{owner})")
