"""Live checks: run one now and keep it (the CLI, the Tools page, the API, serve's schedule),
and read the stored ones.

A kept check becomes the evidence of the domain's findings unless it is inconclusive
(store/checks_rows.py); the next check of the domain reports what changed since it.
"""

from __future__ import annotations

import datetime as dt

from tlsscope import counters
from tlsscope.app import events
from tlsscope.app.scope import Scope, domain_name
from tlsscope.check.run import Options, run
from tlsscope.errors import Invalid
from tlsscope.live_check import LiveCheck
from tlsscope.store import Store, checks_rows


def checkable(domain: str) -> str:
    """A domain a live check can be asked for; `Invalid` names what is wrong."""
    name = domain_name(domain)
    if not name or "." not in name or len(name) > 253:
        raise Invalid("domain", "domain: give a domain name such as example.com")
    return name


def check_now(store: Store | None, options: Options, domain: str,
              now: dt.datetime | None = None) -> LiveCheck:
    """Check `domain` live; with a store, compared with its latest check and kept. A
    malformed `options.nameserver` is `Invalid`."""
    name = domain_name(domain)
    try:
        result = run(name, options, store.read(checks_rows.latest, name) if store else None,
                     now=now)
    except ValueError as exc:
        raise Invalid("nameserver", f"--nameserver: {exc}") from None
    counters.check_done(result.status)
    if store is not None:
        keep(store, result)
    return result


def keep(store: Store, result: LiveCheck) -> int:
    """Store a check and tell its subscribers (tlsscope.app.events), in one transaction."""
    return store.write(_keep, result)


def _keep(connection: events.Connection, result: LiveCheck) -> int:
    check_id = checks_rows.save(connection, result)
    events.check_done(connection, events.CheckDone(result.domain, check_id, result.status,
                                                   result.checked_at))
    return check_id


def check_for(store: Store, options: Options, scope: Scope, domain: str) -> LiveCheck:
    """A user's check (Tools page, API): any domain may be checked by a user who may write;
    it is kept only when the user may see the domain."""
    scope.require_writer()
    name = checkable(domain)
    return check_now(store if scope.allows(name) else None, options, name)


def latest(store: Store, scope: Scope, domain: str) -> LiveCheck | None:
    """The domain's latest conclusive check: its findings' evidence."""
    return store.read(checks_rows.latest, scope.domain(domain))


def history(store: Store, scope: Scope, domain: str, limit: int = 50) -> list[LiveCheck]:
    """A domain's checks, newest first."""
    return store.read(checks_rows.history, scope.domain(domain), limit)
