"""`GET /healthz`: whether each part of the server works. Unauthenticated, and cheap.

    200 {"status": "ok", "writer": "ok", "analyst": "ok", "database": "ok"}
    503 {"status": "unavailable", "writer": "the writer process is starting", ...}

A part is a function that says what is wrong with it, or None, without waiting (the writer
and analyst processes: are they running). The database is asked a `SELECT 1` on a thread of
its own, given DATABASE_SECONDS to answer: a database that hangs makes the answer 503, never
the event loop wait, and one check at a time runs however often /healthz is asked (its
answer is reused for REUSE_SECONDS). The database's error is logged; the body names only its
kind (the driver's message may name hosts, and /healthz answers anyone).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future

from tlsscope.store import Store
from tlsscope.store.health import unreachable

log = logging.getLogger("tlsscope.web")
Part = Callable[[], str | None]
DATABASE_SECONDS = 2.0
REUSE_SECONDS = 1.0


class Health:
    def __init__(self, parts: Mapping[str, Part], store: Store | None = None) -> None:
        self.parts, self.store = parts, store
        self._check: Future[str | None] | None = None
        self._checked_at = 0.0

    async def __call__(self) -> tuple[bool, dict[str, str]]:
        """Whether all is well, and each part's state ("ok", or what is wrong)."""
        problems = {name: part() for name, part in self.parts.items()}
        if self.store is not None:
            problems["database"] = await self._database(self.store)
        body = {name: problem or "ok" for name, problem in problems.items()}
        healthy = not any(problems.values())
        return healthy, {"status": "ok" if healthy else "unavailable", **body}

    async def _database(self, store: Store) -> str | None:
        check = self._check
        fresh = time.monotonic() - self._checked_at < REUSE_SECONDS
        if check is None or (check.done() and not fresh):
            check = self._check = Future()
            check.set_running_or_notify_cancel()  # it cannot be cancelled: it runs
            self._checked_at = time.monotonic()
            threading.Thread(target=_ping, args=(store, check), name="tlsscope-healthz",
                             daemon=True).start()
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(check)),
                                          DATABASE_SECONDS)
        except TimeoutError:
            waited = time.monotonic() - self._checked_at
            return f"no answer to SELECT 1 for {waited:.1f} s"


def _ping(store: Store, check: Future[str | None]) -> None:
    try:
        problem = unreachable(store)
    except Exception as exc:  # not swallowed: handed to the request that awaits it
        check.set_exception(exc)
        return
    if problem is not None:  # the driver's words may name hosts: for the log, not the world
        log.warning("database check failed", extra={"fields": {"error": problem}})
        problem = f"SELECT 1 failed ({problem.split(':', 1)[0]}; the log says why)"
    check.set_result(problem)
