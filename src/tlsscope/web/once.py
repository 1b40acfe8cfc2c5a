"""A blocking job for a request handler (a database check, the report gauges), run on a
thread of its own, one at a time however often it is asked for, its answer reused for
`reuse` seconds and waited for `budget` seconds at most: a database that hangs makes the
request fail in time, never the event loop wait or the threads pile up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class Overran(Exception):
    """The job did not answer within its budget; `seconds`: how long it has run."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"no answer to {what} for {seconds:.1f} s")
        self.seconds = seconds


class Once(Generic[T]):
    def __init__(self, job: Callable[[], T], what: str, *, reuse: float, budget: float,
                 thread: str = "tlsscope-once") -> None:
        self.job, self.what, self.reuse, self.budget = job, what, reuse, budget
        self.thread = thread
        self._future: Future[T] | None = None
        self._at = 0.0

    async def __call__(self) -> T:
        """The job's answer (its exception, raised); Overran past the budget."""
        future = self._future
        fresh = time.monotonic() - self._at < self.reuse
        if future is None or (future.done() and not fresh):
            future = self._future = Future()
            future.set_running_or_notify_cancel()  # it cannot be cancelled: it runs
            self._at = time.monotonic()
            threading.Thread(target=run, args=(self.job, future), name=self.thread,
                             daemon=True).start()
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)),
                                          self.budget)
        except TimeoutError:
            raise Overran(self.what, time.monotonic() - self._at) from None


def run(job: Callable[[], T], future: Future[T]) -> None:
    try:
        future.set_result(job())
    except Exception as exc:  # not swallowed: handed to the request that awaits it
        future.set_exception(exc)
