"""The background work of `tlsscope serve`, in a process of its own: rebuild the coarse
roll-ups the last batches marked, and recompute the findings of stale domains, one at a time.

On its own process, a big domain's recomputation (seconds) neither delays the writer's
acknowledgements nor holds the event loop; it reads outside any write transaction and only
stores its result in a short one (Store.refresh_findings). It works when no report has been
stored for two seconds, and under sustained intake at least every two minutes. On a fleet,
one node's analyst works at a time: the one holding the "analyst" lease (app/lease.py).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from tlsscope.app import freshness
from tlsscope.app.lease import Lease
from tlsscope.children import ignore_stop_signals, start_shielded, stop_at_once
from tlsscope.settings import Settings
from tlsscope.store import Pool, Store

log = logging.getLogger("tlsscope.analyst")
PAUSE_SECONDS = 1.0
QUIET_SECONDS = 2.0  # work once no report has been stored for this long...
LONGEST_WAIT = 120.0  # ...or, under sustained intake, at least this often


class AnalystProcess:
    """The analyst's process; `restart` replaces it once it has died (children.Supervisor)."""

    name = "analyst"

    def __init__(self, url: str, settings: Settings) -> None:
        self._args = (url, settings)
        self.process, self._stop, self.started = self._start()

    def restart(self) -> None:
        self._stop.close()  # the dead one's
        self.process, self._stop, self.started = self._start()

    def _start(self) -> tuple[BaseProcess, Connection, float]:
        context = multiprocessing.get_context("spawn")
        receive, stop = context.Pipe(duplex=False)
        process = context.Process(target=_analyst_main, name="tlsscope-analyst",
                                  args=(*self._args, receive))
        start_shielded(process)
        receive.close()  # the child's end: it sees end-of-file once this process is gone
        log.info("process started", extra={"fields": {"process": self.name,
                                                      "pid": process.pid}})
        return process, stop, time.monotonic()

    def trouble(self) -> str | None:
        """What is wrong with it (for /healthz), or None."""
        code = self.process.exitcode
        return None if code is None else f"the analyst process stopped (exit {code})"

    def close(self, seconds: float = 3.0) -> None:
        """Stop after the work in hand (its result is stored, or retried next start); past
        `seconds`, at once (a recomputation killed half-way leaves the domain marked)."""
        with contextlib.suppress(OSError):  # it is gone already
            self._stop.send(None)
        self.process.join(seconds)
        if self.process.is_alive():
            log.warning("stopping overran; the analyst is stopped at once",
                        extra={"fields": {"process": self.name, "seconds": seconds}})
        stop_at_once(self.process)
        self._stop.close()


def _analyst_main(url: str, settings: Settings, stop: Connection) -> None:
    """Until told to stop, or its parent is gone (`stop` then reads end-of-file)."""
    from tlsscope import alert, logs

    ignore_stop_signals()
    logs.configure()
    alert.wire()
    store = Store.open(url, pool=Pool(settings.db_pool_analyst, settings.db_pool_timeout),
                       migrate=settings.migrate_on_start, wait=settings.schema_wait_seconds)
    lease = Lease(store, "analyst", settings.lease_seconds)
    gc.freeze()
    last_id, changed_at, worked_at = freshness.reports_seen(store), time.monotonic(), 0.0
    try:
        while not stop.poll(PAUSE_SECONDS):
            if not lease.held():  # another node's analyst does the fleet's passes
                continue
            now = time.monotonic()
            newest = freshness.reports_seen(store)
            if newest != last_id:
                last_id, changed_at = newest, now
            # While reports stream in, the writer needs the disk and the cores: wait.
            if now - changed_at < QUIET_SECONDS and now - worked_at < LONGEST_WAIT:
                continue
            worked_at = now
            try:
                done = freshness.catch_up(store, settings.report_domains, limit=1)
            except Exception:  # loop guard: the domain stays stale and is tried again
                log.exception("rebuilding roll-ups or recomputing findings failed")
                continue
            if done:
                log.info("findings recomputed", extra={"fields": {"domain": done[0]}})
    finally:
        lease.release()
        store.close()
