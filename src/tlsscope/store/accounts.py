"""Accounts and tenancy rows: organisations, their domains, users, sessions, API tokens.

Who sees what: `visible_domains(user)` is None for an admin (every domain), otherwise the
domains of the user's organisation. Every dashboard and API query is narrowed by it.
Secrets (session cookies, API tokens) are kept as SHA-256 hashes; passwords as argon2id
hashes made by the caller. A disabled user has no live session or token (disabling, deleting
and a new password take them away) and cannot log in; an API token has a scope (`SCOPES`)
and may expire.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy import Select, delete, func, select, text, union, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from tlsscope.store import tables as t
from tlsscope.store.queries import utc, utc_or_none

ROLES = ("admin", "member", "readonly")
SCOPES = ("read", "write", "admin")  # each includes the ones before it


class User(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    email: str
    name: str
    role: str  # admin | member | readonly
    organisation: int | None
    organisation_name: str
    lang: str  # "" : the browser's
    disabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_write(self) -> bool:
        return self.role != "readonly"


class DomainRow(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    organisation: int | None
    organisation_name: str


class TokenRow(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    scope: str = "read"
    expires_at: dt.datetime | None = None
    email: str = ""  # whose token


def organisation(connection: Connection, name: str) -> int:
    """The id of the organisation with this name, created when missing."""
    o = t.organisations
    found = connection.execute(select(o.c.id).where(o.c.name == name)).scalar()
    if found is not None:
        return int(found)
    return int(connection.execute(o.insert().values(name=name).returning(o.c.id)).scalar_one())


def organisations(connection: Connection) -> list[tuple[int, str]]:
    o = t.organisations
    return [(int(row[0]), row[1]) for row in connection.execute(
        select(o.c.id, o.c.name).order_by(o.c.name))]


def assign_domain(connection: Connection, name: str, organisation_id: int | None,
                  now: dt.datetime) -> None:
    d = t.domains
    name = name.strip().lower().rstrip(".")
    if connection.execute(select(d.c.name).where(d.c.name == name)).first() is None:
        connection.execute(d.insert().values(name=name, organisation=organisation_id,
                                             added_at=now))
    else:
        connection.execute(update(d).where(d.c.name == name)
                           .values(organisation=organisation_id))


def assigned_domains(connection: Connection) -> set[str]:
    """The domains an organisation owns (what `accept_domains = "assigned"` accepts)."""
    d = t.domains
    return {row[0] for row in connection.execute(
        select(d.c.name).where(d.c.organisation.is_not(None)))}


def all_domains(connection: Connection) -> list[DomainRow]:
    """Every domain: those with reports and those added by hand, with their owner."""
    d, o, m = t.domains, t.organisations, t.rollup_dirty
    totals = t.domain_days
    names = union(select(d.c.name.label("name")),
                  select(totals.c.domain.label("name")).where(totals.c.domain != ""),
                  select(m.c.domain.label("name")).where(m.c.domain != ""),  # not rebuilt yet
                  ).subquery()
    query = (select(names.c.name, d.c.organisation, o.c.name)
             .select_from(names.outerjoin(d, d.c.name == names.c.name)
                          .outerjoin(o, o.c.id == d.c.organisation))
             .order_by(names.c.name))
    return [DomainRow(name=row[0], organisation=row[1], organisation_name=row[2] or "")
            for row in connection.execute(query)]


def visible_domains(connection: Connection, user: User) -> list[str] | None:
    """The domains `user` may see (None: every domain, for an admin)."""
    if user.is_admin:
        return None
    if user.organisation is None:
        return []
    d = t.domains
    return [row[0] for row in connection.execute(
        select(d.c.name).where(d.c.organisation == user.organisation).order_by(d.c.name))]


def _user_query() -> Select[Any]:
    u, o = t.users, t.organisations
    return (select(u.c.id, u.c.email, u.c.name, u.c.role, u.c.organisation,
                   o.c.name.label("organisation_name"), u.c.lang, u.c.disabled)
            .select_from(u.outerjoin(o, o.c.id == u.c.organisation)))


def _live_user_query() -> Select[Any]:
    return _user_query().where(t.users.c.disabled.is_(False))


def _user(row: Row[Any]) -> User:
    """A user from a row of `_user_query` (its columns by name)."""
    m = row._mapping
    return User(id=int(m["id"]), email=m["email"], name=m["name"], role=m["role"],
                organisation=m["organisation"], organisation_name=m["organisation_name"] or "",
                lang=m["lang"], disabled=bool(m["disabled"]))


def add_user(connection: Connection, email: str, name: str, password_hash: str, role: str,
             organisation_id: int | None, lang: str, now: dt.datetime) -> int:
    """Raises ValueError for an unknown role or an email already taken."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    try:
        with connection.begin_nested():
            return int(connection.execute(t.users.insert().values(
                email=email.strip().lower(), name=name, password_hash=password_hash,
                role=role, organisation=organisation_id, lang=lang, created_at=now)
                .returning(t.users.c.id)).scalar_one())
    except IntegrityError:
        raise ValueError(f"a user with the email {email!r} exists already") from None


def revoke_all(connection: Connection, user_id: int) -> None:
    """End every session and API token of the user."""
    connection.execute(delete(t.sessions).where(t.sessions.c.user == user_id))
    connection.execute(delete(t.api_tokens).where(t.api_tokens.c.user == user_id))


def set_password(connection: Connection, user_id: int, password_hash: str) -> None:
    """A new password; the user's sessions and API tokens end."""
    connection.execute(update(t.users).where(t.users.c.id == user_id)
                       .values(password_hash=password_hash))
    revoke_all(connection, user_id)


def user_by_id(connection: Connection, user_id: int) -> User | None:
    row = connection.execute(_user_query().where(t.users.c.id == user_id)).first()
    return None if row is None else _user(row)


def find_user(connection: Connection, email: str) -> User | None:
    """A user by email, disabled or not."""
    row = connection.execute(_user_query().where(
        t.users.c.email == email.strip().lower())).first()
    return None if row is None else _user(row)


def set_disabled(connection: Connection, user_id: int, disabled: bool) -> None:
    """Disable (sessions and tokens end) or enable a user."""
    connection.execute(update(t.users).where(t.users.c.id == user_id)
                       .values(disabled=disabled))
    if disabled:
        revoke_all(connection, user_id)


def delete_user(connection: Connection, user_id: int) -> None:
    revoke_all(connection, user_id)
    connection.execute(delete(t.users).where(t.users.c.id == user_id))


def set_role(connection: Connection, user_id: int, role: str,
             organisation_id: int | None) -> None:
    """The user's role and organisation (the caller checks that a non-admin has one)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    connection.execute(update(t.users).where(t.users.c.id == user_id)
                       .values(role=role, organisation=organisation_id))


def organisation_id(connection: Connection, name: str) -> int | None:
    """The id of the organisation with this name (None: there is none)."""
    o = t.organisations
    found = connection.execute(select(o.c.id).where(o.c.name == name)).scalar()
    return None if found is None else int(found)


def rename_organisation(connection: Connection, old: int, name: str) -> None:
    """Raises ValueError when another organisation has the name."""
    if organisation_id(connection, name) not in (None, old):
        raise ValueError(f"an organisation named {name!r} exists already")
    connection.execute(update(t.organisations).where(t.organisations.c.id == old)
                       .values(name=name))


def merge_organisations(connection: Connection, source: int, target: int) -> None:
    """Move the domains and users of `source` to `target`, then remove `source`."""
    if source == target:
        raise ValueError("an organisation cannot be merged into itself")
    for table in (t.domains, t.users):
        connection.execute(update(table).where(table.c.organisation == source)
                           .values(organisation=target))
    connection.execute(delete(t.organisations).where(t.organisations.c.id == source))


def set_lang(connection: Connection, user_id: int, lang: str) -> None:
    connection.execute(update(t.users).where(t.users.c.id == user_id).values(lang=lang))


def users(connection: Connection, organisation_id: int | None = None) -> list[User]:
    query = _user_query()
    if organisation_id is not None:
        query = query.where(t.users.c.organisation == organisation_id)
    return [_user(row) for row in connection.execute(query.order_by(t.users.c.email))]


FIRST_USER_LOCK = 0x7715A0D1  # a PostgreSQL advisory lock: one first user per fleet


def add_first_user(connection: Connection, email: str, name: str, password_hash: str,
                   now: dt.datetime) -> int | None:
    """An admin, if there is no user yet (None: there was one). Nodes started together on an
    empty database queue for one lock (PostgreSQL's advisory lock; SQLite's write lock), so
    exactly one of them creates it and the others find it."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": FIRST_USER_LOCK})
    if user_count(connection):
        return None
    return add_user(connection, email, name, password_hash, "admin", None, "", now)


def user_count(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(t.users)).scalar_one())


def login_row(connection: Connection, email: str) -> tuple[User, str] | None:
    """A user who may log in and their password hash, by email (None: none, or disabled)."""
    u = t.users
    row = connection.execute(_live_user_query().add_columns(u.c.password_hash)
                             .where(u.c.email == email.strip().lower())).first()
    return None if row is None else (_user(row), row._mapping["password_hash"])


def add_session(connection: Connection, token_sha256: str, user_id: int, csrf: str,
                now: dt.datetime, expires_at: dt.datetime) -> None:
    connection.execute(delete(t.sessions).where(t.sessions.c.expires_at < now))
    connection.execute(t.sessions.insert().values(
        token_sha256=token_sha256, user=user_id, csrf=csrf, created_at=now,
        expires_at=expires_at))


def session_user(connection: Connection, token_sha256: str,
                 now: dt.datetime) -> tuple[User, str] | None:
    """The user of a live session and its CSRF token."""
    s = t.sessions
    row = connection.execute(select(s.c.user, s.c.csrf, s.c.expires_at)
                             .where(s.c.token_sha256 == token_sha256)).mappings().first()
    if row is None or (utc_or_none(row["expires_at"]) or now) <= now:
        return None
    user = connection.execute(_live_user_query().where(t.users.c.id == row["user"])).first()
    return None if user is None else (_user(user), row["csrf"])


def drop_session(connection: Connection, token_sha256: str) -> None:
    connection.execute(delete(t.sessions).where(t.sessions.c.token_sha256 == token_sha256))


def add_token(connection: Connection, user_id: int, name: str, token_sha256: str,
              now: dt.datetime, scope: str = "read",
              expires_at: dt.datetime | None = None) -> int:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    return int(connection.execute(t.api_tokens.insert().values(
        user=user_id, name=name, token_sha256=token_sha256, created_at=now, scope=scope,
        expires_at=expires_at).returning(t.api_tokens.c.id)).scalar_one())


TOKEN_USE_PRECISION = dt.timedelta(minutes=1)


def token_user(connection: Connection, token_sha256: str,
               now: dt.datetime) -> tuple[User, int, bool, str] | None:
    """The user of a live API token, the token's id, whether its last use is older than a
    minute (then `touch_token`: reads stay reads for a busy API client), and its scope.
    None: no such token, expired, or its user is disabled."""
    a = t.api_tokens
    row = connection.execute(select(a.c.id, a.c.user, a.c.last_used_at, a.c.scope,
                                    a.c.expires_at)
                             .where(a.c.token_sha256 == token_sha256)).mappings().first()
    if row is None or (utc_or_none(row["expires_at"]) or now + TOKEN_USE_PRECISION) <= now:
        return None
    user = connection.execute(_live_user_query().where(t.users.c.id == row["user"])).first()
    if user is None:
        return None
    last = utc_or_none(row["last_used_at"])
    return (_user(user), int(row["id"]), last is None or now - last >= TOKEN_USE_PRECISION,
            str(row["scope"]))


def touch_token(connection: Connection, token_id: int, now: dt.datetime) -> None:
    connection.execute(update(t.api_tokens).where(t.api_tokens.c.id == token_id)
                       .values(last_used_at=now))


def tokens(connection: Connection, user_id: int | None) -> list[TokenRow]:
    """The API tokens of a user (None: every user's, for an admin), oldest first."""
    a, u = t.api_tokens, t.users
    query = (select(a.c.id, a.c.name, a.c.created_at, a.c.last_used_at, a.c.scope,
                    a.c.expires_at, u.c.email)
             .select_from(a.join(u, u.c.id == a.c.user)).order_by(a.c.id))
    if user_id is not None:
        query = query.where(a.c.user == user_id)
    return [TokenRow(id=int(row["id"]), name=row["name"], created_at=utc(row["created_at"]),
                     last_used_at=utc_or_none(row["last_used_at"]), scope=row["scope"],
                     expires_at=utc_or_none(row["expires_at"]), email=row["email"])
            for row in connection.execute(query).mappings()]


def drop_token(connection: Connection, user_id: int | None, token_id: int) -> bool:
    """Revoke a token of `user_id` (None: of anyone, for an admin); False: no such token."""
    a = t.api_tokens
    condition = a.c.id == token_id
    if user_id is not None:
        condition = condition & (a.c.user == user_id)
    done = connection.execute(delete(a).where(condition))
    return bool(done.rowcount)
