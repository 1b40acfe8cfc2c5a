"""The background work of `tlsscope serve`, in a process of its own: rebuild the coarse
roll-ups the last batches marked, and recompute the findings of stale domains, one at a time.

On its own process, a big domain's recomputation (seconds) neither delays the writer's
acknowledgements nor holds the event loop; it reads outside any write transaction and only
stores its result in a short one (Store.refresh_findings). It works when no report has been
stored for two seconds, and under sustained intake at least every two minutes.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import time
from typing import Any

from tlsscope.settings import Settings
from tlsscope.store import Store

log = logging.getLogger("tlsscope.analyst")
PAUSE_SECONDS = 1.0
QUIET_SECONDS = 2.0  # work once no report has been stored for this long...
LONGEST_WAIT = 120.0  # ...or, under sustained intake, at least this often


class AnalystProcess:
    def __init__(self, url: str, settings: Settings) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop: Any = context.Event()
        self._process = context.Process(target=_analyst_main, name="tlsscope-analyst",
                                        args=(url, settings, self._stop), daemon=True)
        self._process.start()

    def close(self, seconds: float = 30.0) -> None:
        """Stop after the work in hand (its result is stored, or retried next start)."""
        self._stop.set()
        self._process.join(seconds)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)


def _analyst_main(url: str, settings: Settings, stop: Any) -> None:
    from tlsscope import logs

    logs.configure()
    store = Store.open(url)
    parent = os.getppid()
    gc.freeze()
    last_id, changed_at, worked_at = store.last_report_id(), time.monotonic(), 0.0
    try:
        while not stop.wait(PAUSE_SECONDS) and os.getppid() == parent:
            now = time.monotonic()
            newest = store.last_report_id()
            if newest != last_id:
                last_id, changed_at = newest, now
            # While reports stream in, the writer needs the disk and the cores: wait.
            if now - changed_at < QUIET_SECONDS and now - worked_at < LONGEST_WAIT:
                continue
            worked_at = now
            try:
                store.fresh()
                done = store.refresh_findings(limit=1, report_domains=settings.report_domains)
            except Exception:  # loop guard: the domain stays stale and is tried again
                log.exception("rebuilding roll-ups or recomputing findings failed")
                continue
            if done:
                log.info("findings recomputed", extra={"fields": {"domain": done[0]}})
    finally:
        store.close()
