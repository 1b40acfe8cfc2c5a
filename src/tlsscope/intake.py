"""Intakes: what receivers hand their inputs to. A future per input, resolved on commit.

Both store in group commits (writer_loop): inputs that arrive while a batch is being written
are stored together in the next transaction, which is what makes many small HTTP or SMTP
deliveries cheap. A receiver acknowledges (2xx, 250) only when its future resolves; a
`StoreUnavailable` means "make the sender retry".

    Intake          a writer thread in this process (tests, small installations)
    WriterProcess   a writer in its own process: parsing and storing then run on another
                    core than the event loop, instead of taking turns with it for the GIL
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import multiprocessing
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Protocol

from tlsscope import counters, writer_loop
from tlsscope.app import events, freshness
from tlsscope.children import ignore_stop_signals, start_shielded, stop_at_once
from tlsscope.errors import StoreUnavailable
from tlsscope.pipeline import DomainGate, quarantine_budget, read_and_save
from tlsscope.reader_pool import ReaderPool
from tlsscope.receipts import Receipt, Retry, Saved
from tlsscope.receive.dkim import DkimVerifier
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings
from tlsscope.store import Pool, Store

log = logging.getLogger("tlsscope.intake")


class Submitter(Protocol):
    def submit(self, raw: RawInput) -> Future[Saved]: ...

    def close(self) -> None: ...


class Intake:
    """A writer thread in this process."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self._save = _reader_writer(store, settings, DomainGate.for_intake(settings))
        self._queue: queue.SimpleQueue[tuple[Future[Saved], RawInput] | None] = (
            queue.SimpleQueue())
        self._thread = threading.Thread(target=self._run, name="tlsscope-intake", daemon=True)
        self._thread.start()

    def submit(self, raw: RawInput) -> Future[Saved]:
        future: Future[Saved] = Future()
        self._queue.put((future, raw))
        return future

    def close(self) -> None:
        """Store everything already submitted, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        writer_loop.group_commit(self._get, self._save, _settle, self._idle, IDLE_SECONDS)

    def _get(self, seconds: float) -> tuple[Future[Saved], RawInput] | None:
        return self._queue.get(timeout=seconds) if seconds > 0 else self._queue.get_nowait()

    def _idle(self) -> None:
        refresh_when_idle(self.store, self.settings)


class WriterProcess:
    """A writer in its own process, which opens the store at `url` itself.

    A writer that dies (kill -9, the OOM killer) is replaced by `restart` (children.Supervisor
    calls it). Meanwhile `submit` answers StoreUnavailable, and so do the inputs the dead one
    had been handed and had not answered: the sender retries, and an input the dead writer
    did commit is recognised by its digest, so nothing counts twice.
    """

    name = "writer"

    def __init__(self, url: str, settings: Settings, refresh: bool = True) -> None:
        """`refresh`: recompute findings when idle (False when an analyst process does)."""
        self._args = (url, settings, refresh)
        self._lock = threading.Lock()
        self._tickets = itertools.count()
        self._closing = False
        self.restart()

    @property
    def process(self) -> BaseProcess:
        return self._link.process

    @property
    def started(self) -> float:
        return self._link.started

    def restart(self) -> None:
        link = _Link(*self._args, lock=self._lock)
        self._link = link
        log.info("process started", extra={"fields": {"process": self.name,
                                                      "pid": link.process.pid}})

    def trouble(self) -> str | None:
        """What keeps it from storing now (for /healthz), or None: dead, starting, or alive
        but not answering (a lock wait, a hung database) for longer than senders wait."""
        link = self._link
        if link.ended is not None:
            return link.ended
        if not link.ready:
            return "the writer process is starting"
        waited = link.waited()
        if waited > self._args[1].writer_answer_seconds:
            return f"the writer has not answered for {waited:.0f} s"
        return None

    def stuck(self) -> bool:
        """Not answering for twice as long as senders wait: the supervisor replaces it (its
        transaction is rolled back; the senders were told to retry)."""
        return self._link.waited() > 2 * self._args[1].writer_answer_seconds

    def queue_depth(self) -> int:
        """Inputs handed to the writer and not yet answered."""
        return len(self._link.pending)

    def queue_trouble(self) -> str | None:
        """For /readyz: the queue full (new inputs are refused), or None."""
        most = self._args[1].writer_queue_max
        depth = self.queue_depth()
        return f"the writer's queue is full ({depth} inputs waiting)" if depth >= most else None

    def submit(self, raw: RawInput) -> Future[Saved]:
        future: Future[Saved] = Future()
        with self._lock:
            link = self._link
            down = "the writer is stopping" if self._closing else link.ended
            if down is None and len(link.pending) >= self._args[1].writer_queue_max:
                down = (f"the writer's queue is full ({len(link.pending)} inputs waiting, "
                        "writer_queue_max)")
            if down is None:
                ticket = next(self._tickets)
                link.pending[ticket] = future
                link.sent[ticket] = time.monotonic()
                link.outbox.put((ticket, raw))
        if down is not None:
            counters.input_answered(raw.channel, counters.RETRY, None)
            _settle(future, Retry(reason=down))
        return future

    def close(self, seconds: float = 30.0) -> None:
        """Store everything already submitted, then stop the writer; past `seconds`, stop it
        at once: its transaction is rolled back, and what it had not answered is answered
        StoreUnavailable (the senders retry)."""
        with self._lock:
            self._closing = True
            link = self._link
            link.closing = True
        link.outbox.put(None)
        link.process.join(seconds)
        if link.process.is_alive():
            log.warning("stopping overran; the writer is stopped at once", extra={"fields": {
                "process": self.name, "seconds": seconds, "unanswered": len(link.pending)}})
        stop_at_once(link.process)
        link.collector.join(2.0)


class _Link:
    """One writer process and its two pipes: inputs in (fed by a thread, so `submit` never
    waits on a busy writer), outcomes back (read by a thread that resolves the futures)."""

    def __init__(self, url: str, settings: Settings, refresh: bool, *,
                 lock: threading.Lock) -> None:
        context = multiprocessing.get_context("spawn")
        requests_out, requests_in = context.Pipe(duplex=False)
        results_out, results_in = context.Pipe(duplex=False)
        self.process = context.Process(target=_writer_main, name="tlsscope-writer",
                                       args=(url, settings, requests_out, results_in, refresh))
        start_shielded(self.process)
        self.started = time.monotonic()
        # The child's ends: once it is gone, sending fails and reading sees end-of-file.
        requests_out.close()
        results_in.close()
        self._requests, self._results, self._lock = requests_in, results_out, lock
        self.outbox: queue.SimpleQueue[tuple[int, RawInput] | None] = queue.SimpleQueue()
        self.pending: dict[int, Future[Saved]] = {}
        self.sent: dict[int, float] = {}  # ticket -> when it was handed over, oldest first
        self.ready = False
        self.closing = False
        self.ended: str | None = None
        threading.Thread(target=self._feed, name="tlsscope-feed", daemon=True).start()
        self.collector = threading.Thread(target=self._collect, name="tlsscope-results",
                                          daemon=True)
        self.collector.start()

    def waited(self) -> float:
        """How long the oldest input handed over has waited for its answer (0: none waits)."""
        with self._lock:
            oldest = next(iter(self.sent.values()), None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    def _feed(self) -> None:
        """Everything submitted by now goes over in one message (a list; None: stop), not one
        by one: one pickling and one write for a burst of arrivals."""
        while True:
            burst = [self.outbox.get()]
            while burst[-1] is not None and len(burst) < writer_loop.MAX_COMMIT:
                try:
                    burst.append(self.outbox.get_nowait())
                except queue.Empty:
                    break
            stop = burst[-1] is None
            inputs = burst[:-1] if stop else burst
            try:
                if inputs:
                    self._requests.send(inputs)
                if stop:
                    self._requests.send(None)
            except OSError:  # the writer is gone: _collect answers what it was handed
                break
            if stop:
                break
        self._requests.close()

    def _collect(self) -> None:
        try:
            while (item := self._results.recv()) is not None:
                if item == READY:
                    self.ready = True
                    continue
                with self._lock:  # a list of (ticket, receipt): the answers of one turn
                    futures = [self.pending.pop(ticket) for ticket, _ in item]
                    for ticket, _ in item:
                        self.sent.pop(ticket, None)
                for future, (_, receipt) in zip(futures, item, strict=True):
                    _settle(future, receipt)
        except (EOFError, OSError):  # it died; the supervisor logs it and starts another
            reason = ("tlsscope is stopping" if self.closing
                      else "the writer process stopped; it is being restarted")
        else:
            reason = "the writer process has stopped"
        with self._lock:
            self.ended = reason
            unanswered, self.pending, self.sent = self.pending, {}, {}
        for future in unanswered.values():
            _settle(future, Retry(reason=reason))
        self._results.close()


IDLE_SECONDS = 1.0


def refresh_when_idle(store: Store, settings: Settings) -> None:
    """With no input waiting: rebuild the coarse roll-ups the last batches marked, then
    recompute the findings of one stale domain (so that a long recomputation never holds up
    the next batch for more than one domain)."""
    try:
        freshness.catch_up(store, settings.report_domains, limit=1)
    except Exception:  # loop guard: both are done again on the next idle tick
        log.exception("rebuilding roll-ups or recomputing findings failed")


READY = "ready"  # the writer's first message: the store is open


def _writer_main(url: str, settings: Settings, requests: Connection, results: Connection,
                 refresh: bool = True) -> None:
    """The writer process: inputs from `requests`, stored in group commits, receipts back.

    With reader processes (`readers` > 0) they read while it stores (writer_loop.run);
    without, it reads each batch itself (writer_loop.group_commit). It stops when told to
    (None), and also when its parent is gone (`requests` reads end-of-file, or `results`
    cannot be written): nothing would collect its answers, and what it has not committed will
    be delivered again.
    """
    from tlsscope import alert, logs

    ignore_stop_signals()
    logs.configure()
    alert.wire()
    store = events.attach(Store.open(
        url, checkpoints="background",
        pool=Pool(settings.db_pool_writer, settings.db_pool_timeout, pre_ping=False),
        migrate=settings.migrate_on_start, wait=settings.schema_wait_seconds))
    pool = ReaderPool(settings, live=True, size=settings.readers) if settings.readers else None
    gate = DomainGate.for_intake(settings)
    gc.freeze()  # what is loaded by now stays: out of the collector's full passes

    def when_idle() -> None:
        if refresh:
            refresh_when_idle(store, settings)

    answers: list[tuple[int, Receipt]] = []  # sent together, once per turn of the loop
    arrived: deque[tuple[int, RawInput] | None] = deque()

    def answer(ticket: int, receipt: Receipt) -> None:
        answers.append((ticket, receipt))

    def flush() -> None:
        if answers:
            results.send(list(answers))
            answers.clear()

    def get(seconds: float) -> tuple[int, RawInput] | None:
        flush()
        if not arrived:
            if not requests.poll(seconds):
                raise queue.Empty
            try:
                burst: list[tuple[int, RawInput]] | None = requests.recv()
            except EOFError:  # the parent is gone
                return None
            arrived.extend(burst if burst is not None else [None])
        return arrived.popleft()

    try:
        results.send(READY)
        if pool is not None:
            flow = writer_loop.Flow(store, pool, gate, quarantine_budget(settings),
                                    settings.dkim_required)
            writer_loop.run(flow, requests, answer, when_idle, IDLE_SECONDS, flush)
        else:
            writer_loop.group_commit(get, _reader_writer(store, settings, gate), answer,
                                     when_idle, IDLE_SECONDS)
        flush()
        results.send(None)
    except BrokenPipeError:  # the parent is gone: nobody to answer
        pass
    finally:
        if pool is not None:
            pool.close()
        store.close()


def _reader_writer(store: Store, settings: Settings,
                   gate: DomainGate | None) -> Callable[[list[RawInput]], list[Saved]]:
    """Batches read, their DKIM checked, then stored, in this thread (no reader processes)."""
    dkim = DkimVerifier.for_intake(settings, live=True)

    def save(raws: list[RawInput]) -> list[Saved]:
        return read_and_save(store, raws, settings, dkim, gate)

    return save


def _settle(future: Future[Saved], receipt: Receipt) -> None:
    """Answer a receiver (Retry: StoreUnavailable, the sender is to try again), unless it
    stopped waiting (its future was cancelled): a late answer must not kill the thread that
    answers every other receiver."""
    with contextlib.suppress(InvalidStateError):
        if isinstance(receipt, Retry):
            future.set_exception(StoreUnavailable(receipt.reason))
        else:
            future.set_result(receipt)
