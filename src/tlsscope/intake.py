"""Intakes: what receivers hand their inputs to. A future per input, resolved on commit.

Both store in group commits: inputs that arrive while a batch is being written are stored
together in the next transaction, which is what makes many small HTTP or SMTP deliveries
cheap. A receiver acknowledges (2xx, 250) only when its future resolves; a
`StoreUnavailable` means "make the sender retry".

    Intake          a writer thread in this process (tests, small installations)
    WriterProcess   a writer in its own process: parsing and storing then run on another
                    core than the event loop, instead of taking turns with it for the GIL
"""

from __future__ import annotations

import gc
import itertools
import logging
import multiprocessing
import os
import queue
import threading
from concurrent.futures import Future
from typing import Any, Protocol

from tlsscope.errors import StoreUnavailable
from tlsscope.pipeline import DkimCheck, DomainGate, _save
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings
from tlsscope.store import Saved, Store

MAX_BATCH = 64  # larger batches raised the p99 (a batch is the unit of waiting)


class Submitter(Protocol):
    def submit(self, raw: RawInput) -> Future[Saved]: ...

    def close(self) -> None: ...


def _drain(get: Any, get_nowait: Any, empty: type[Exception]) -> tuple[list[Any], bool]:
    """A batch: the next item (waiting for it), then whatever else is already there."""
    first = get()
    if first is None:
        return [], True
    batch = [first]
    while len(batch) < MAX_BATCH:
        try:
            more = get_nowait()
        except empty:
            break
        if more is None:
            return batch, True
        batch.append(more)
    return batch, False


class Intake:
    """A writer thread in this process."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self.dkim = DkimCheck.for_intake(settings, live=True)
        self.gate = DomainGate.for_intake(settings)
        self._queue: queue.SimpleQueue[tuple[RawInput, Future[Saved]] | None] = (
            queue.SimpleQueue())
        self._thread = threading.Thread(target=self._run, name="tlsscope-intake", daemon=True)
        self._thread.start()

    def submit(self, raw: RawInput) -> Future[Saved]:
        future: Future[Saved] = Future()
        self._queue.put((raw, future))
        return future

    def close(self) -> None:
        """Store everything already submitted, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = _drain(self._get, self._queue.get_nowait, queue.Empty)
            if batch:
                self._write(batch)

    def _get(self) -> tuple[RawInput, Future[Saved]] | None:
        while True:
            try:
                return self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                refresh_when_idle(self.store, self.settings)

    def _write(self, batch: list[tuple[RawInput, Future[Saved]]]) -> None:
        try:
            saved = _save(self.store, [raw for raw, _ in batch], self.settings, self.dkim,
                          self.gate)
        except Exception as exc:  # loop guard: the batch fails as a whole; receivers retry
            failure = StoreUnavailable(f"{type(exc).__name__}: {exc}")
            for _, future in batch:
                future.set_exception(failure)
            return
        for (_, future), one in zip(batch, saved, strict=True):
            future.set_result(one)


class WriterProcess:
    """A writer in its own process, which opens the store at `url` itself."""

    def __init__(self, url: str, settings: Settings, refresh: bool = True) -> None:
        """`refresh`: recompute findings when idle (False when an analyst process does)."""
        context = multiprocessing.get_context("spawn")
        self._requests: Any = context.Queue()
        self._results: Any = context.Queue()
        self._pending: dict[int, Future[Saved]] = {}
        self._lock = threading.Lock()
        self._tickets = itertools.count()
        self._broken: str | None = None
        self._process = context.Process(target=_writer_main, name="tlsscope-writer",
                                        args=(url, settings, self._requests, self._results,
                                              refresh))
        self._process.start()
        self._reader = threading.Thread(target=self._collect, name="tlsscope-results",
                                        daemon=True)
        self._reader.start()

    def submit(self, raw: RawInput) -> Future[Saved]:
        future: Future[Saved] = Future()
        if self._broken is not None:
            future.set_exception(StoreUnavailable(self._broken))
            return future
        ticket = next(self._tickets)
        with self._lock:
            self._pending[ticket] = future
        self._requests.put((ticket, raw))
        return future

    def close(self) -> None:
        """Store everything already submitted, then stop the writer."""
        self._requests.put(None)
        self._process.join()
        self._reader.join(timeout=30)

    def _collect(self) -> None:
        while True:
            try:
                item = self._results.get(timeout=1)
            except queue.Empty:
                if not self._process.is_alive():
                    self._fail_all(f"the writer process stopped (exit {self._process.exitcode})")
                    return
                continue
            if item is None:
                return
            ticket, outcome = item
            with self._lock:
                future = self._pending.pop(ticket)
            if isinstance(outcome, str):
                future.set_exception(StoreUnavailable(outcome))
            else:
                future.set_result(outcome)

    def _fail_all(self, reason: str) -> None:
        self._broken = reason
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(StoreUnavailable(reason))


IDLE_SECONDS = 1.0
log = logging.getLogger("tlsscope.intake")


def refresh_when_idle(store: Store, settings: Settings) -> None:
    """With no input waiting: rebuild the coarse roll-ups the last batches marked, then
    recompute the findings of one stale domain (so that a long recomputation never holds up
    the next batch for more than one domain)."""
    try:
        store.fresh()
        store.refresh_findings(limit=1, report_domains=settings.report_domains)
    except Exception:  # loop guard: both are done again on the next idle tick
        log.exception("rebuilding roll-ups or recomputing findings failed")


def _writer_main(url: str, settings: Settings, requests: Any, results: Any,
                 refresh: bool = True) -> None:
    """The writer process: batches from `requests`, one transaction each, outcomes back.

    It stops when told to, and also when its parent is gone (killed): nothing would collect
    its answers, and what it has not committed will be delivered again.
    """
    store = Store.open(url, checkpoints="background")
    dkim = DkimCheck.for_intake(settings, live=True)
    gate = DomainGate.for_intake(settings)
    parent = os.getppid()
    gc.freeze()  # what is loaded by now stays: out of the collector's full passes

    def get() -> Any:
        while True:
            try:
                return requests.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                if os.getppid() != parent:
                    return None
                if refresh:
                    refresh_when_idle(store, settings)

    stop = False
    try:
        while not stop:
            batch, stop = _drain(get, requests.get_nowait, queue.Empty)
            if not batch:
                continue
            try:
                saved: list[Any] = _save(store, [raw for _, raw in batch], settings, dkim,
                                         gate)
            except Exception as exc:  # loop guard: the batch fails as a whole; senders retry
                saved = [f"{type(exc).__name__}: {exc}"] * len(batch)
            for (ticket, _), outcome in zip(batch, saved, strict=True):
                results.put((ticket, outcome))
    finally:
        results.put(None)
        store.close()
