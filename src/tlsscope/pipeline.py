"""ingest(raw inputs) = read → store, in batches; the only place that order is written.

Each batch: hash every input; ask the store which are known (those are not read again, so
re-ingesting a stored corpus costs a lookup per input); read the rest; store the batch in one
transaction. Analysis and alerts will hook in here, after the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import NamedTuple

import msgspec

from tlsscope.errors import StoreUnavailable
from tlsscope.parse.reader import read_input
from tlsscope.parse.results import Outcome
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings
from tlsscope.store import Arrival, Saved, Store

BATCH_INPUTS = 500
BATCH_BYTES = 32 * 1024 * 1024


class Rejected(NamedTuple):
    source: str
    reasons: list[str]


class IngestTotals(msgspec.Struct, kw_only=True):
    inputs: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    not_a_report: int = 0
    reports_stored: int = 0
    reports_repeated: int = 0
    conflicts: int = 0
    rejections: list[Rejected] = msgspec.field(default_factory=list)

    def add(self, saved: Saved) -> None:
        self.inputs += 1
        outcome = saved.outcome
        if outcome is Outcome.ACCEPTED:
            self.accepted += 1
        elif outcome is Outcome.DUPLICATE:
            self.duplicate += 1
        elif outcome is Outcome.REJECTED:
            self.rejected += 1
            self.rejections.append(Rejected(saved.source, saved.reasons))
        else:
            self.not_a_report += 1
        self.reports_stored += saved.stored
        self.reports_repeated += saved.repeated
        self.conflicts += saved.conflicts


def ingest(store: Store, raws: Iterable[RawInput], settings: Settings,
           on_saved: Callable[[Saved], None] | None = None) -> IngestTotals:
    """Store every input, in batches of one transaction each."""
    totals = IngestTotals()

    def save(batch: list[RawInput]) -> None:
        for saved in _save(store, batch, settings):
            totals.add(saved)
            if on_saved is not None:
                on_saved(saved)

    batch: list[RawInput] = []
    size = 0
    for raw in raws:
        if raw.data is None:  # unreadable or over the cap: nothing to keep
            totals.add(Saved("", raw.source, Outcome.REJECTED, 0, 0, 0,
                             [f"unreadable_input: {raw.problem}"]))
            continue
        batch.append(raw)
        size += len(raw.data)
        if len(batch) >= BATCH_INPUTS or size >= BATCH_BYTES:
            save(batch)
            batch, size = [], 0
    if batch:
        save(batch)
    return totals


def _save(store: Store, raws: list[RawInput], settings: Settings) -> list[Saved]:
    digests = [hashlib.sha256(raw.data or b"").hexdigest() for raw in raws]
    known = store.known(digests)
    arrivals = []
    for raw, digest in zip(raws, digests, strict=True):
        data = raw.data or b""
        result = None
        if digest not in known:
            known.add(digest)  # a second copy within this batch is a repeat arrival
            result = read_input(data, raw.source, settings=settings, filename=raw.filename,
                                declared_type=raw.declared_type)
        arrivals.append(Arrival(digest, raw.source, data, raw.received_at or _now(), result))
    return store.save(arrivals)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Intake:
    """Stores what the receivers hand over, from one writer thread, in group commits.

    A receiver calls `submit` and awaits the future: it resolves once the input is committed
    (or with `StoreUnavailable`), so a receiver acknowledges only what is durable. Inputs that
    arrive while a batch is being written are stored together in the next transaction, which
    is what makes many small HTTP or SMTP deliveries cheap.
    """

    def __init__(self, store: Store, settings: Settings, max_batch: int = 256) -> None:
        self.store, self.settings, self.max_batch = store, settings, max_batch
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
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[tuple[RawInput, Future[Saved]]]) -> None:
        try:
            saved = _save(self.store, [raw for raw, _ in batch], self.settings)
        except Exception as exc:  # loop guard: the batch fails as a whole; receivers retry
            failure = StoreUnavailable(f"{type(exc).__name__}: {exc}")
            for _, future in batch:
                future.set_exception(failure)
            return
        for (_, future), one in zip(batch, saved, strict=True):
            future.set_result(one)
