"""The audit log: who did what, when, from where. Logins (succeeded, failed) and logouts;
users, organisations, domains, API tokens and alert rules made, changed or removed;
exports; deletions; retention limits changed (docs/audit.md).

Each action records itself: `write` runs the action's rows function and appends the entry
in the same transaction (the entry commits or rolls back with the change), `record` appends
one right after an action that runs several transactions (an organisation's export or
deletion). Once committed, the entry is also one structured log line (logger
`tlsscope.audit`). Nothing else writes the log: the API and the pages only list it (admins).

Who acts comes from the context, not from an argument threaded through every function: the
web sets it from the requester (their session or API token, and the client's address as
uvicorn resolved it, forwarded_allow_ips respected), the CLI as `cli:<os user>` from `cli`;
anything else acts as `system`. A context variable: each request (and each thread FastAPI
runs a route in, which copies the request's context) has its own.

Strings are someone's typing: stored with NULs and lone surrogates replaced and bounded in
length. Secrets (passwords, token values, webhook targets and secrets) are never recorded.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Concatenate, NamedTuple, ParamSpec, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from tlsscope.app.scope import Scope
    from tlsscope.store import Store
    from tlsscope.store.accounts import User
    from tlsscope.store.audit_rows import AuditEntry

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("tlsscope.audit")

ACTOR_CHARS = 320  # an email is at most 254; `cli:` and an OS user name
TARGET_CHARS = 500
VALUE_CHARS = 500  # one string in the detail
DETAIL_ITEMS = 50  # members of one list or mapping in the detail
MAX_LISTED = 1_000  # entries one listing returns at most


class Actor(NamedTuple):
    name: str  # the user's email, `cli:<os user>`, `system`
    id: int | None  # the user's id, when a user
    address: str  # the client's IP address, `cli`, or ""


SYSTEM = Actor("system", None, "")
_current: ContextVar[Actor] = ContextVar("tlsscope_audit_actor", default=SYSTEM)


class Change(NamedTuple):
    """What is recorded: the action (a dotted name: `user.created`), what it was done to,
    and the rest (never a secret). `actor`: instead of the context's (a login)."""

    action: str
    target: str = ""
    detail: Mapping[str, Any] = {}
    actor: Actor | None = None


def user_actor(user: User, address: str) -> Actor:
    return Actor(user.email, user.id, address)


def cli_actor() -> Actor:
    """The operator at a terminal: `cli:<os user>`."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no login name, no passwd entry (a container's uid)
        import os

        who = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return Actor(f"cli:{who}", None, "cli")


def act_as(actor: Actor) -> None:
    """Who acts in the rest of this context (a request, a command)."""
    _current.set(actor)


@contextmanager
def acting(actor: Actor) -> Iterator[Actor]:
    """Who acts inside the block."""
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def current() -> Actor:
    return _current.get()


# writing ------------------------------------------------------------------------------------

def _text(value: str, most: int) -> str:
    from tlsscope.parse.clean import clean

    value = clean(value)
    return value if len(value) <= most else value[:most] + f"… ({len(value):,} characters)"


def _tidy(value: Any, depth: int = 0) -> Any:
    """The detail as stored: JSON values, strings cleaned and bounded, collections short."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _text(value, VALUE_CHARS)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if depth >= 3:
        return _text(str(value), VALUE_CHARS)
    if isinstance(value, Mapping):
        items = list(value.items())
        out = {_text(str(k), 100): _tidy(v, depth + 1) for k, v in items[:DETAIL_ITEMS]}
        if len(items) > DETAIL_ITEMS:
            out["…"] = f"{len(items) - DETAIL_ITEMS:,} more"
        return out
    if isinstance(value, list | tuple | set | frozenset):
        seq = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        shown = [_tidy(v, depth + 1) for v in seq[:DETAIL_ITEMS]]
        if len(seq) > DETAIL_ITEMS:
            shown.append(f"… {len(seq) - DETAIL_ITEMS:,} more")
        return shown
    return _text(str(value), VALUE_CHARS)


class _Pending(NamedTuple):
    at: dt.datetime
    actor: Actor
    action: str
    target: str
    detail: dict[str, Any]


def _pending(change: Change) -> _Pending:
    actor = change.actor or current()
    actor = Actor(_text(actor.name, ACTOR_CHARS) or "unknown", actor.id,
                  _text(actor.address, 100))
    detail = _tidy(dict(change.detail))
    return _Pending(dt.datetime.now(dt.UTC), actor, _text(change.action, 64),
                    _text(change.target, TARGET_CHARS), detail)


def _append(connection: Connection, entry: _Pending) -> int:
    from tlsscope.store import audit_rows

    return audit_rows.add(connection, entry.at, entry.actor.name, entry.actor.id,
                          entry.actor.address, entry.action, entry.target, entry.detail)


def _logged(entry: _Pending, entry_id: int) -> None:
    log.info(f"audit: {entry.action}", extra={"fields": {
        "audit_id": entry_id, "at": entry.at.isoformat(), "actor": entry.actor.name,
        "actor_id": entry.actor.id, "address": entry.actor.address, "action": entry.action,
        "target": entry.target, "detail": entry.detail}})


def write(store: Store, change: Change | Callable[[R], Change | None],
          fn: Callable[Concatenate[Connection, P], R], /, *args: P.args,
          **kwargs: P.kwargs) -> R:
    """Run the rows function `fn` in one write transaction and append `change` in it
    (a function of `fn`'s result: the change it made, or None when it made none)."""
    done: list[tuple[_Pending, int]] = []

    def both(connection: Connection, /, *a: P.args, **k: P.kwargs) -> R:
        done.clear()  # a retried transaction appends once
        result = fn(connection, *a, **k)
        made = change if isinstance(change, Change) else change(result)
        if made is not None:
            entry = _pending(made)
            done.append((entry, _append(connection, entry)))
        return result

    result = store.write(both, *args, **kwargs)
    for entry, entry_id in done:
        _logged(entry, entry_id)
    return result


def record(store: Store, change: Change) -> None:
    """Append `change` in a transaction of its own (after an action that ran several)."""
    entry = _pending(change)
    _logged(entry, store.write(_append, entry))


# reading ------------------------------------------------------------------------------------

def entries(store: Store, scope: Scope, limit: int = 100, *, action: str = "",
            since: dt.datetime | None = None, before: int | None = None) -> list[AuditEntry]:
    """The log, newest first (admins only): at most `limit` entries, of `action` (or its
    family: `login`), from `since`, older than entry `before`."""
    from tlsscope.store import audit_rows

    scope.require_admin()
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return store.read(audit_rows.entries, max(1, min(limit, MAX_LISTED)),
                      action=action.strip()[:64], since=since, before=before)
