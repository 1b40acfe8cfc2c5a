"""`GET /healthz` and `GET /readyz`: whether each part of the server works, and whether it
is ready to take reports (the writer's queue not full, the schema this tlsscope's).
Unauthenticated, and cheap.

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
from tlsscope.store.health import schema_problem, unreachable

log = logging.getLogger("tlsscope.web")
Part = Callable[[], str | None]
DATABASE_SECONDS = 2.0
REUSE_SECONDS = 1.0


class Health:
    """`parts`: what /healthz and /readyz look at (the processes); `ready`: what /readyz
    looks at besides (the writer's queue)."""

    def __init__(self, parts: Mapping[str, Part], store: Store | None = None,
                 ready: Mapping[str, Part] | None = None) -> None:
        self.parts, self.store, self.ready_parts = parts, store, dict(ready or {})
        self._database = _Once(lambda: _database_problem(store), "SELECT 1") if store else None
        self._schema = _Once(lambda: schema_problem(store), "the schema check") if store else None

    async def __call__(self) -> tuple[bool, dict[str, str]]:
        """Whether all is well, and each part's state ("ok", or what is wrong)."""
        problems = {name: part() for name, part in self.parts.items()}
        if self._database is not None:
            problems["database"] = await self._database()
        return _answer(problems)

    async def ready(self) -> tuple[bool, dict[str, str]]:
        """/readyz: the parts, the writer's queue below writer_queue_max, the database
        answering and its schema this tlsscope's."""
        problems = {name: part() for name, part in {**self.parts, **self.ready_parts}.items()}
        if self._database is not None and self._schema is not None:
            problems["database"] = await self._database()
            problems["schema"] = (await self._schema() if problems["database"] is None
                                  else "unknown: the database does not answer")
        return _answer(problems)


def _answer(problems: dict[str, str | None]) -> tuple[bool, dict[str, str]]:
    body = {name: problem or "ok" for name, problem in problems.items()}
    healthy = not any(problems.values())
    return healthy, {"status": "ok" if healthy else "unavailable", **body}


class _Once:
    """A check run on a thread of its own, one at a time, its answer reused for
    REUSE_SECONDS and waited for DATABASE_SECONDS at most."""

    def __init__(self, check: Callable[[], str | None], what: str) -> None:
        self.check, self.what = check, what
        self._future: Future[str | None] | None = None
        self._at = 0.0

    async def __call__(self) -> str | None:
        future = self._future
        fresh = time.monotonic() - self._at < REUSE_SECONDS
        if future is None or (future.done() and not fresh):
            future = self._future = Future()
            future.set_running_or_notify_cancel()  # it cannot be cancelled: it runs
            self._at = time.monotonic()
            threading.Thread(target=_run, args=(self.check, future), name="tlsscope-healthz",
                             daemon=True).start()
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)),
                                          DATABASE_SECONDS)
        except TimeoutError:
            return f"no answer to {self.what} for {time.monotonic() - self._at:.1f} s"


def _run(check: Callable[[], str | None], future: Future[str | None]) -> None:
    try:
        future.set_result(check())
    except Exception as exc:  # not swallowed: handed to the request that awaits it
        future.set_exception(exc)


def _database_problem(store: Store | None) -> str | None:
    assert store is not None
    problem = unreachable(store)
    if problem is not None:  # the driver's words may name hosts: for the log, not the world
        log.warning("database check failed", extra={"fields": {"error": problem}})
        problem = f"SELECT 1 failed ({problem.split(':', 1)[0]}; the log says why)"
    return problem
