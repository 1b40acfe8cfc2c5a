"""The jobs one node of a fleet does at a time (the analyst's passes, an IMAP mailbox, the
retention purge), each under a lease in the store (store/leases.py).

`Lease.held()` is asked before each round of the job: it takes the lease if it is free,
renews it when a third of its time has passed, and says whether this node may work now. A
node that stops cleanly gives its leases back; one that dies loses them `seconds` after its
last renewal, and the next node to ask takes over. On SQLite (one node) the lease is always
this node's, at the price of a small write every `seconds / 3`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Callable

import msgspec
from sqlalchemy.exc import SQLAlchemyError

from tlsscope.store import Store, leases

log = logging.getLogger("tlsscope.lease")

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def node_name() -> str:
    """This process, as leases and claims name it: host, pid and a random tag (a pid is
    reused after a restart; the tag is not)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(3)}"


class Lease:
    def __init__(self, store: Store, name: str, seconds: float, holder: str | None = None,
                 clock: Clock = _utcnow) -> None:
        self.store, self.name, self.seconds = store, name, seconds
        self.holder = holder or node_name()
        self.clock = clock
        self._until: dt.datetime | None = None  # when what we hold expires

    def held(self) -> bool:
        """Whether this node holds the lease now (taking or renewing it as needed)."""
        now = self.clock()
        if self._until is not None and self._until - now > dt.timedelta(
                seconds=self.seconds * 2 / 3):
            return True  # renewed less than a third of its time ago
        try:
            got = self.store.write(leases.take, self.name, self.holder, self.seconds, now)
        except SQLAlchemyError as exc:  # the database is away: nobody may assume the job
            log.warning("cannot renew the lease", extra={"fields": {
                "lease": self.name, "why": str(exc.orig if hasattr(exc, "orig") else exc)[:300]}})
            got = False
        was = self._until is not None and self._until > now
        self._until = now + dt.timedelta(seconds=self.seconds) if got else None
        if got != was:
            log.info("lease taken" if got else "lease lost",
                     extra={"fields": {"lease": self.name, "holder": self.holder}})
        return got

    def release(self) -> None:
        if self._until is None:
            return
        self._until = None
        try:
            self.store.write(leases.release, self.name, self.holder)
        except SQLAlchemyError:
            log.warning("cannot give the lease back", extra={"fields": {"lease": self.name}})


class Held(msgspec.Struct):
    """A lease as the store has it (`current`: not expired)."""

    job: str
    holder: str
    since: dt.datetime
    expires: dt.datetime
    current: bool


def held_now(store: Store, now: dt.datetime | None = None) -> list[Held]:
    """Which node does which job now (`tlsscope jobs`)."""
    now = now or _utcnow()
    return [Held(name, holder, since, expires, expires >= now)
            for name, holder, since, expires in store.read(leases.every)]
