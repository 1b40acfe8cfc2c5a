"""Accounts: users and their passwords (argon2id), browser sessions and API tokens (stored
hashed), organisations (tenants) and which domains they own. For `tlsscope users`/`orgs`/
`domains`, the Settings and login pages, the API, and serve's first run.

Every rule about an account is here: what a valid email, password, role and organisation
are. A rule broken is `Invalid` (naming the field); an unknown user, organisation or token
is `NotFound`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection

from tlsscope.app import audit
from tlsscope.app.audit import Change
from tlsscope.app.scope import Scope, valid_domain
from tlsscope.errors import Invalid, NotFound
from tlsscope.parse.clean import clean
from tlsscope.store import Store
from tlsscope.store import accounts as rows
from tlsscope.store.accounts import SCOPES, DomainRow, TokenRow, User

__all__ = ["SCOPES", "DomainRow", "TokenRow", "User"]  # the types its callers see

MIN_PASSWORD = 10
SESSION_DAYS = 14
TOKEN_PREFIX = "tls_"
ROLES = ("admin", "member", "readonly")
_hasher = PasswordHasher()
# A real hash to verify against when the email is unknown: both paths take as long.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _password_rule(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid("password", f"password: at least {MIN_PASSWORD} characters")


# users ---------------------------------------------------------------------------------------

def add_user(store: Store, email: str, password: str, role: str, organisation: str,
             lang: str = "") -> int:
    _email_rule(email)
    _password_rule(password)
    if role != "admin" and not organisation:
        raise Invalid("organisation", "organisation: members and read-only users belong to one")
    org = _organisation(store, organisation)
    made = Change("user.created", email.strip().lower(),
                  {"role": role, "organisation": organisation or None})
    try:
        return audit.write(store, lambda user_id: made._replace(
            detail={**made.detail, "user_id": user_id}), rows.add_user, email,
            email.split("@")[0], hash_password(password), role, org, lang,
            dt.datetime.now(dt.UTC))
    except ValueError as exc:  # the store's own rules (a known email, an unknown role)
        raise Invalid("email" if "email" in str(exc) else "role", str(exc)) from None


ORGANISATION_CHARS = 200


def _organisation_rule(name: str) -> None:
    if len(name) > ORGANISATION_CHARS:
        raise Invalid("organisation", f"organisation: at most {ORGANISATION_CHARS} characters "
                      f"(this one has {len(name):,})")


def _organisation(store: Store, name: str) -> int | None:
    """The organisation named `name`, made if new (None: no name)."""
    if not name:
        return None
    _organisation_rule(name)
    found, _new = audit.write(store, lambda made: Change(
        "organisation.created", name, {"organisation_id": made[0]}) if made[1] else None,
        _made_organisation, name)
    return found


def _made_organisation(connection: Connection, name: str) -> tuple[int, bool]:
    """The organisation's id, and whether it is new."""
    found = rows.organisation_id(connection, name)
    if found is not None:
        return found, False
    return int(rows.organisation(connection, name)), True


def _email_rule(email: str) -> None:
    if "@" not in email or len(email) > 254:
        raise Invalid("email", "email: give an address such as ana@example.com")


def first_admin(store: Store, email: str, password: str) -> bool:
    """An admin, when there is no user yet (False: there was one, or another node of the
    fleet made it first)."""
    if store.read(rows.user_count):
        return False
    _email_rule(email)
    _password_rule(password)
    made = audit.write(store, lambda user_id: None if user_id is None else Change(
        "user.created", email.strip().lower(),
        {"role": "admin", "first_admin": True, "user_id": user_id}),
        rows.add_first_user, email, email.split("@")[0], hash_password(password),
        dt.datetime.now(dt.UTC))
    return made is not None


def user(store: Store, email: str) -> User:
    found = store.read(rows.find_user, email)
    if found is None:
        raise NotFound(f"no user {email!r}")
    return found


def user_by_id(store: Store, user_id: int) -> User:
    found = store.read(rows.user_by_id, user_id)
    if found is None:
        raise NotFound()
    return found


def users(store: Store) -> list[User]:
    return store.read(rows.users)


def set_password(store: Store, email: str, password: str) -> None:
    _password_rule(password)
    found = store.read(rows.login_row, email)
    if found is None:
        raise NotFound(f"no user {email!r}")
    audit.write(store, Change("user.changed", found[0].email, {"changed": ["password"]}),
                rows.set_password, found[0].id, hash_password(password))


def set_role(store: Store, who: User, role: str, organisation: str | None) -> None:
    """A new role, and organisation (None: the user's own; "": none). A member or read-only
    user belongs to an organisation."""
    if organisation is None:
        org = who.organisation
    else:
        org = _organisation(store, organisation)
    if role != "admin" and org is None:
        raise Invalid("organisation", "organisation: members and read-only users belong to one")
    detail = {"changed": ["role", "organisation"], "role": role, "was_role": who.role,
              "organisation": who.organisation_name if organisation is None
              else organisation or None, "was_organisation": who.organisation_name or None}
    try:
        audit.write(store, Change("user.changed", who.email, detail), rows.set_role, who.id,
                    role, org)
    except ValueError as exc:
        raise Invalid("role", str(exc)) from None


def set_disabled(store: Store, who: User, disabled: bool) -> None:
    """A disabled user cannot log in; their sessions and tokens end."""
    audit.write(store, Change("user.changed", who.email,
                              {"changed": ["disabled"], "disabled": disabled}),
                rows.set_disabled, who.id, disabled)


def delete_user(store: Store, who: User) -> None:
    audit.write(store, Change("user.removed", who.email,
                              {"user_id": who.id, "role": who.role,
                               "organisation": who.organisation_name or None}),
                rows.delete_user, who.id)


def set_lang(store: Store, who: User, lang: str) -> None:
    store.write(rows.set_lang, who.id, lang)


# logging in ----------------------------------------------------------------------------------

def check_password(store: Store, email: str, password: str) -> User | None:
    """The user, when the password is theirs (and they are not disabled). A failure is
    recorded (the email as typed, never the password). An email no user can have (too long,
    NULs or lone surrogates: unstorable) is not looked up."""
    possible = len(email) <= 254 and clean(email) == email
    found = store.read(rows.login_row, email) if possible else None
    try:
        _hasher.verify(found[1] if found else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        found = None
    if found is None:
        typed = email.strip()
        known = possible and store.read(rows.find_user, email) is not None
        audit.record(store, Change("login.failed", typed, {"known_user": known},
                                   audit.current()._replace(name=typed or "(no email)", id=None)))
        return None
    return found[0]


def start_session(store: Store, who: User) -> str:
    """A new session for `who`; returns the cookie value (stored hashed)."""
    token = new_secret()
    now = dt.datetime.now(dt.UTC)
    actor = audit.user_actor(who, audit.current().address)
    audit.write(store, Change("login.succeeded", who.email, actor=actor), rows.add_session,
                digest(token), who.id, new_secret(), now, now + dt.timedelta(days=SESSION_DAYS))
    return token


def end_session(store: Store, cookie: str) -> None:
    audit.write(store, Change("logout", audit.current().name), rows.drop_session,
                digest(cookie))


def session_scope(store: Store, cookie: str) -> Scope | None:
    """The scope of a browser session's cookie (None: no such live session)."""
    found = store.read(rows.session_user, digest(cookie), dt.datetime.now(dt.UTC))
    if found is None:
        return None
    who, csrf = found
    return Scope(who, store.read(rows.visible_domains, who), csrf)


def token_scope(store: Store, token: str) -> Scope | None:
    """The scope of an API token (None: unknown, expired, or its user disabled)."""
    now = dt.datetime.now(dt.UTC)
    found = store.read(rows.token_user, digest(token), now)
    if found is None:
        return None
    who, token_id, stale, scope = found
    if stale:  # last use is kept to the hour, not written on every call
        store.write(rows.touch_token, token_id, now)
    return Scope(who, store.read(rows.visible_domains, who), "", scope)


# API tokens ----------------------------------------------------------------------------------

def new_token(store: Store, who: User, name: str, scope: str = "read",
              expires_days: int | None = None) -> str:
    """A new API token for `who`; shown once, stored hashed."""
    if expires_days is not None and expires_days < 1:
        raise Invalid("expires-days", "expires-days: at least 1 (or none: never expires)")
    if scope not in rows.SCOPES:
        raise Invalid("scope", f"scope must be one of {', '.join(rows.SCOPES)}")
    token = TOKEN_PREFIX + new_secret()
    now = dt.datetime.now(dt.UTC)
    expires = None if expires_days is None else now + dt.timedelta(days=expires_days)
    audit.write(store, lambda token_id: Change("token.created", name, {
        "token_id": token_id, "owner": who.email, "scope": scope, "expires_at": expires}),
        rows.add_token, who.id, name, digest(token), now, scope, expires)
    return token


def tokens(store: Store, owner: User | None) -> list[TokenRow]:
    """A user's API tokens (None: everyone's)."""
    return store.read(rows.tokens, None if owner is None else owner.id)


def revoke(store: Store, owner: User | None, token_id: int) -> None:
    """Revoke a token (of `owner` only, unless None: any)."""
    audit.write(store, lambda row: Change("token.revoked", row.name, {
        "token_id": row.id, "owner": row.email, "scope": row.scope}),
        _drop_token, None if owner is None else owner.id, token_id)


def _drop_token(connection: Connection, owner_id: int | None, token_id: int) -> TokenRow:
    """The token revoked (NotFound: none such of `owner_id`; nothing changes)."""
    known = {row.id: row for row in rows.tokens(connection, owner_id)}
    if token_id not in known or not rows.drop_token(connection, owner_id, token_id):
        raise NotFound(f"no token {token_id}")
    return known[token_id]


# organisations and domains ---------------------------------------------------------------------

def organisations(store: Store) -> list[tuple[int, str]]:
    return store.read(rows.organisations)


def existing_organisation(store: Store, name: str) -> int:
    """The id of the organisation named `name`."""
    found = store.read(rows.organisation_id, name)
    if found is None:
        raise Invalid("organisation", f"no organisation {name!r}")
    return found


def rename_organisation(store: Store, organisation_id: int, name: str) -> None:
    _organisation_rule(name)
    try:
        audit.write(store, lambda old: Change("organisation.renamed", name, {
            "organisation_id": organisation_id, "was": old}), _rename, organisation_id, name)
    except ValueError as exc:
        raise Invalid("name", str(exc)) from None


def merge_organisations(store: Store, source: int, target: int) -> None:
    """Move every user and domain of `source` into `target`, and remove `source`."""
    try:
        audit.write(store, lambda names: Change("organisation.merged", names[1], {
            "merged": names[0], "organisation_id": target, "merged_id": source}),
            _merge, source, target)
    except ValueError as exc:
        raise Invalid("organisation", str(exc)) from None


def domains(store: Store) -> list[DomainRow]:
    """Every domain (with reports, or added) and its organisation."""
    return store.read(rows.all_domains)


def assign(store: Store, domain: str, organisation: str) -> str:
    """Give a domain to an organisation ("": take it away); returns the domain as stored."""
    name = valid_domain(domain)
    now = dt.datetime.now(dt.UTC)
    org = _organisation(store, organisation)
    audit.write(store, lambda was: Change(
        "domain.added" if was is None else "domain.assigned" if org is not None
        else "domain.unassigned", name, {"organisation": organisation or None,
                                         "was": was or None}),
        _assign, name, org, now)
    return name


def _names(connection: Connection) -> dict[int, str]:
    return dict(rows.organisations(connection))


def _rename(connection: Connection, organisation_id: int, name: str) -> str:
    old = _names(connection).get(organisation_id, "")
    rows.rename_organisation(connection, organisation_id, name)
    return old


def _merge(connection: Connection, source: int, target: int) -> tuple[str, str]:
    names = _names(connection)
    rows.merge_organisations(connection, source, target)
    return names.get(source, ""), names.get(target, "")


def _assign(connection: Connection, name: str, org: int | None, now: dt.datetime) -> str | None:
    """The domain's owner before ("": none; None: a domain new to tlsscope)."""
    before = {row.name: row.organisation_name for row in rows.all_domains(connection)}
    rows.assign_domain(connection, name, org, now)
    return before.get(name)
