"""`GET /healthz`: the process is alive (it answers: for systemd or an orchestrator, which
restart a process that does not); `GET /readyz`: it is ready to take reports, each part
working (for a load balancer, which sends reports elsewhere meanwhile). Unauthenticated, and
cheap.

    /healthz  200 {"status": "ok", "version": "0.1.0"}
    /readyz   200 {"status": "ok", "writer": "ok", "analyst": "ok", "queue": "ok",
                   "database": "ok", "schema": "ok"}
              503 {"status": "unavailable", "writer": "the writer process is starting", ...}

A part is a function that says what is wrong with it, or None, without waiting (the writer
and analyst processes: are they running; the writer's queue: is it full). The database is
asked a `SELECT 1` on a thread of its own, given DATABASE_SECONDS to answer: a database that
hangs makes the answer 503, never the event loop wait, and one check at a time runs however
often /readyz is asked (its answer is reused for REUSE_SECONDS: web/once.py). The database's
error is logged; the body names only its kind (the driver's message may name hosts, and
/readyz answers anyone). A database that is away does not make /healthz fail: restarting
tlsscope would not bring it back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from tlsscope import __version__
from tlsscope.store import Store
from tlsscope.store.health import schema_problem, unreachable
from tlsscope.web.once import Once, Overran

log = logging.getLogger("tlsscope.web")
Part = Callable[[], str | None]
DATABASE_SECONDS = 2.0
REUSE_SECONDS = 1.0


class Health:
    """`parts` and `ready`: what /readyz looks at besides the database (the processes, the
    writer's queue)."""

    def __init__(self, parts: Mapping[str, Part], store: Store | None = None,
                 ready: Mapping[str, Part] | None = None) -> None:
        self.parts, self.store, self.ready_parts = parts, store, dict(ready or {})
        self._database = _once(lambda: _database_problem(store), "SELECT 1") if store else None
        self._schema = _once(lambda: schema_problem(store), "the schema check") if store else None

    def alive(self) -> dict[str, str]:
        """/healthz: answered at all, the process is alive."""
        return {"status": "ok", "version": __version__}

    async def ready(self) -> tuple[bool, dict[str, str]]:
        """/readyz: whether all is well, and each part's state ("ok", or what is wrong):
        the processes, the writer's queue below writer_queue_max, the database answering
        and its schema this tlsscope's."""
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


def _once(check: Callable[[], str | None], what: str) -> Callable[[], Awaitable[str | None]]:
    """A check run at most once at a time, answered within DATABASE_SECONDS (web/once.py)."""
    once = Once(check, what, reuse=REUSE_SECONDS, budget=DATABASE_SECONDS,
                thread="tlsscope-healthz")

    async def problem() -> str | None:
        try:
            return await once()
        except Overran as exc:
            return str(exc)

    return problem


def _database_problem(store: Store | None) -> str | None:
    assert store is not None
    problem = unreachable(store)
    if problem is not None:  # the driver's words may name hosts: for the log, not the world
        log.warning("database check failed", extra={"fields": {"error": problem}})
        problem = f"SELECT 1 failed ({problem.split(':', 1)[0]}; the log says why)"
    return problem
