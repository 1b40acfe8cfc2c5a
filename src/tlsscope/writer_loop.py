"""Group commits: how a writer turns the inputs handed to it into transactions. Inputs that
arrive while a transaction is being written are stored together in the next one; each input
is answered with a receipt: Saved, or Retry when the transaction failed as a whole.

    group_commit   the writer reads each batch itself (Intake's thread; serve's writer
                   process with `readers` = 0)
    run, Flow      serve's writer process with reader processes: inputs are read while
                   others are stored, and what has been read is stored at once

With readers, a batch that waited for its slowest read would make every input in it wait for
the input that takes longest to read (up to `read_seconds`: a DKIM lookup to a silent
nameserver, a bomb read to its budget). Here each input goes to a reader as it arrives (a
few small ones queued per reader, none behind a slow one for long: reader_pool); each answer
joins the next group commit as it comes back, and the inputs around a slow one commit
without it.

    pending   digest -> "reading" | "read": an input not yet committed. A second copy that
              arrives meanwhile is a repeat arrival: it waits for the first to be read and
              is stored right after it (never read twice, never stored as new twice)
    read      what has been read (or is a repeat), in the order it is to be stored
"""

from __future__ import annotations

import functools
import hashlib
import logging
import multiprocessing
import queue
import threading
import time
import weakref
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any, NamedTuple, TypeVar

from tlsscope import counters
from tlsscope.parse.results import InputResult
from tlsscope.pipeline import DomainGate, Prepared
from tlsscope.reader_pool import ReaderPool
from tlsscope.receipts import DkimVerdict, Receipt, Retry, Saved
from tlsscope.receive.files import RawInput
from tlsscope.store import Store

log = logging.getLogger("tlsscope.intake")
MAX_COMMIT = 64  # inputs per transaction (larger ones raised the p99: a batch is waited for)
GATHER_SECONDS = 0.02  # longest a read input waits for others to join its transaction
K = TypeVar("K")  # who is answered: a future (Intake's thread), a ticket (a writer process)


def group_commit(get: Callable[[float], tuple[K, RawInput] | None],
                 save: Callable[[list[RawInput]], list[Saved]],
                 answer: Callable[[K, Receipt], None], when_idle: Callable[[], None],
                 idle_seconds: float) -> None:
    """Until told to stop (None): the next input, waited for, and whatever else has arrived
    meanwhile (up to MAX_COMMIT), are read and stored by `save` in one transaction, then each
    is answered. `get(seconds)` waits that long at most for an input and raises queue.Empty
    if none came; while none comes, `when_idle` runs every `idle_seconds`."""
    stop = False
    while not stop:
        batch, stop = _next_batch(get, when_idle, idle_seconds)
        if batch:
            receipts = commit_or_retry(functools.partial(save, [raw for _, raw in batch]),
                                       len(batch))
            for (key, raw), receipt in zip(batch, receipts, strict=True):
                count(raw, receipt)
                answer(key, receipt)


def _next_batch(get: Callable[[float], tuple[K, RawInput] | None], when_idle: Callable[[], None],
                idle_seconds: float) -> tuple[list[tuple[K, RawInput]], bool]:
    """A batch, and whether the writer was told to stop."""
    while True:
        try:
            first = get(idle_seconds)
            break
        except queue.Empty:
            when_idle()
    if first is None:
        return [], True
    batch = [first]
    while len(batch) < MAX_COMMIT:
        try:
            more = get(0.0)
        except queue.Empty:
            break
        if more is None:
            return batch, True
        batch.append(more)
    return batch, False


def count(raw: RawInput, receipt: Receipt) -> None:
    """/metrics: one input answered (tlsscope_inputs_total, tlsscope_intake_seconds)."""
    outcome = receipt.outcome.value if isinstance(receipt, Saved) else counters.RETRY
    counters.input_answered(raw.channel, outcome,
                            raw.received_at.timestamp() if raw.received_at else None)


def commit_or_retry(save: Callable[[], list[Saved]], count: int) -> list[Receipt]:
    """The `count` receipts of one transaction; should it fail, each says "try again"."""
    try:
        return list(save())
    except Exception as exc:  # loop guard: the transaction fails as a whole; senders retry
        return [Retry(reason=f"{type(exc).__name__}: {exc}")] * count


class Item(NamedTuple):
    ticket: int
    raw: RawInput
    digest: str
    fresh: bool  # False: a repeat of the same bytes, stored already or ahead of it
    result: InputResult | None = None
    verdict: DkimVerdict | None = None
    read_at: float = 0.0  # time.monotonic() when it was read (or found to be a repeat)


class _Verdicts:
    """The DKIM verdicts the readers found, as pipeline's save asks for them."""

    def __init__(self, items: list[Item]) -> None:
        self.by_result = {id(i.result): i.verdict for i in items if i.result is not None}

    def check(self, data: bytes, result: InputResult) -> DkimVerdict | None:
        return self.by_result.get(id(result))


class Flow:
    """Inputs between their arrival and their commit."""

    def __init__(self, store: Store, pool: ReaderPool, gate: DomainGate | None,
                 junk_budget: int = 0, dkim_required: bool = False) -> None:
        self.store, self.pool, self.gate = store, pool, gate
        self.junk_budget, self.dkim_required = junk_budget, dkim_required
        self.pending: dict[str, str] = {}
        self.held: dict[str, list[Item]] = {}  # repeats of an input being read
        self.read: list[Item] = []
        self.committing: list[_InFlight] = []
        self.at_once = in_flight(store)
        self.batch = MAX_COMMIT // self.at_once  # two at once: each half as large (measured)
        self.bell, bell_in = multiprocessing.Pipe(duplex=False)
        self._writers = _Writers(self.at_once, bell_in)
        weakref.finalize(self, self._writers.stop)  # the threads end with the flow

    def empty(self) -> bool:
        return not (self.pool.working() or self.pending or self.read or self.committing)

    def admit(self, arrivals: list[tuple[int, RawInput]]) -> None:
        """New inputs go to the readers, copies of one not yet committed wait for it. The
        store is not asked which are stored already: that would be a round-trip on the way
        of every acknowledgement, and the commit finds them anyway (as it must: another node
        may store the same input meanwhile), so a copy of a stored input is read once more,
        then answered as the duplicate it is (pipeline.read_and_save, reading whole
        mailboxes, does ask first)."""
        digests = [hashlib.sha256(raw.data or b"").hexdigest() for _, raw in arrivals]
        for (ticket, raw), digest in zip(arrivals, digests, strict=True):
            state = self.pending.get(digest)
            if state == "reading":
                self.held.setdefault(digest, []).append(Item(ticket, raw, digest, False))
            elif state == "read":
                self.read.append(Item(ticket, raw, digest, False, read_at=time.monotonic()))
            else:
                self.pending[digest] = "reading"
                self.pool.put(Item(ticket, raw, digest, True), raw)

    def dispatch(self) -> None:
        self.pool.dispatch()

    def harvest(self, ready: list[Any]) -> list[tuple[int, Retry]]:
        """Take in what the readers answered; the tickets to answer "try again later" now."""
        now = time.monotonic()
        retries: list[tuple[int, Retry]] = []
        for item, (result, verdict) in self.pool.harvest(ready):
            if self.dkim_required and verdict is not None and verdict.result == "temperror":
                if self.store.known([item.digest]):  # stored already: a duplicate, not a retry
                    self.pending.pop(item.digest, None)
                    self.read.extend(i._replace(fresh=False, read_at=now) for i in (
                        item, *self.held.pop(item.digest, [])))
                else:
                    retries.extend(self._retry_later(item, verdict.detail))
                continue
            self.read.append(item._replace(result=result, verdict=verdict, read_at=now))
            self.pending[item.digest] = "read"
            self.read.extend(i._replace(read_at=now) for i in self.held.pop(item.digest, []))
        return retries

    def _retry_later(self, item: Item, why: str) -> list[tuple[int, Retry]]:
        """DKIM is required and a key lookup got no answer: not a verdict on the mail. It is
        not stored (stored, it would be known, and never checked again); the sender is told
        to try again later (451, 503; the mailbox keeps it; `ingest -` exits 75)."""
        log.warning("DKIM could not be checked; the sender is to try again", extra={
            "fields": {"source": item.raw.source[:200], "why": why[:300]}})
        self.pending.pop(item.digest, None)
        retry = Retry(reason="DKIM is required and a signing key could not be looked up "
                      f"({why[:300]})")
        told = [item, *self.held.pop(item.digest, [])]
        for one in told:
            count(one.raw, retry)
        return [(one.ticket, retry) for one in told]

    def due(self) -> float | None:
        """Seconds until what has been read is to be committed (0: now; None: nothing to).

        Now when nothing else is being read or waits to be (group commit: what arrives
        meanwhile joins the next one), when a transaction's worth is read, or when the oldest
        read input has waited GATHER_SECONDS for others: a slow read never holds the rest.
        Never while `at_once` transactions are being written already."""
        if len(self.committing) >= self.at_once:
            return None
        ready = self._ready()
        if not ready:
            return None
        if not self.pool.working() or len(ready) >= self.batch:
            return 0.0
        return max(0.0, self.read[ready[0]].read_at + GATHER_SECONDS - time.monotonic())

    def _ready(self) -> list[int]:
        """Where in `read` the inputs of the next transaction are: up to `batch`, in order,
        but no repeat of an input a transaction being written holds (were that one to fail,
        the repeat would be answered "duplicate" of an input that is not stored)."""
        writing = {i.digest for c in self.committing for i in c.items if i.fresh}
        ready: list[int] = []
        for n, item in enumerate(self.read):
            if item.fresh or item.digest not in writing:
                ready.append(n)
                if len(ready) == self.batch:
                    break
        return ready

    def commit(self) -> list[tuple[int, Receipt]]:
        """Store what has been read, in one transaction, and wait for it: the receipt of
        each ticket (`begin`, then `finish` once it is written)."""
        self.begin()
        for one in self.committing:
            one.done.wait()
        return self.finish()

    def begin(self) -> None:
        """Start storing what has been read, in one transaction, in a thread of its own:
        meanwhile the loop goes on taking inputs in, handing them to the readers and taking
        their answers, and (PostgreSQL) another transaction may be written beside it: the
        round-trips, the server's work and its flush of the log are waited for here, not in
        the loop. Writers of one node or of a fleet never wait for each other's marks (only
        inserted: store/rollups.py); rows both would write are written in key order."""
        ready = self._ready()
        if not ready:
            return
        taken = set(ready)
        items = [self.read[n] for n in ready]
        self.read = [item for n, item in enumerate(self.read) if n not in taken]
        results = [i.result for i in items if i.fresh and i.result is not None]
        prepared = Prepared([i.raw for i in items], [i.digest for i in items],
                             [i.fresh for i in items], lambda: results)
        save = functools.partial(prepared.save, self.store, _Verdicts(items), self.gate,
                                 self.junk_budget)
        one = _InFlight(items, save)
        self.committing.append(one)
        self._writers.jobs.put(one)

    def finished(self, ready: list[Any]) -> bool:
        return bool(self.committing) and self.bell in ready

    def finish(self) -> list[tuple[int, Receipt]]:
        """The receipts of the transactions written since the last call.

        Should one have failed, each of its inputs is told to try again, and so are the
        repeats of its fresh ones that wait for a later transaction: stored on their own
        they would be answered "duplicate" of an input that is not stored."""
        while self.bell.poll(0):
            self.bell.recv_bytes()
        done = [c for c in self.committing if c.done.is_set()]
        self.committing = [c for c in self.committing if not c.done.is_set()]
        out: list[tuple[int, Receipt]] = []
        failed = set()
        for one in done:
            out.extend(zip((item.ticket for item in one.items), one.receipts, strict=True))
            for item, receipt in zip(one.items, one.receipts, strict=True):
                if item.fresh:
                    self.pending.pop(item.digest, None)
                    if isinstance(receipt, Retry):
                        failed.add(item.digest)
                count(item.raw, receipt)
        if failed:
            told = [i for i in self.read if not i.fresh and i.digest in failed]
            self.read = [i for i in self.read if i.fresh or i.digest not in failed]
            retry = Retry(reason="the transaction storing the input this one repeats "
                          "failed; please retry")
            for item in told:
                count(item.raw, retry)
                out.append((item.ticket, retry))
        return out


def in_flight(store: Store) -> int:
    """Transactions a writer may have being written at once: two on PostgreSQL (while one
    waits for the server, the other is prepared or waits too; each on a connection of the
    writer's pool), one on SQLite (one writer at a time there)."""
    if store.engine.dialect.name != "postgresql":
        return 1
    size: int = store.engine.pool.size()  # type: ignore[attr-defined]
    return max(1, min(2, size))


class _InFlight:
    """One transaction to be written by one of the writer threads."""

    def __init__(self, items: list[Item], save: Callable[[], list[Saved]]) -> None:
        self.items, self.save = items, save
        self.receipts: list[Receipt] = []
        self.done = threading.Event()


class _Writers:
    """The threads that write transactions, as many as may be written at once, started once
    (a thread started per transaction made the loop wait for each to start, with the GIL
    held by the others): each takes the next transaction, writes it and rings `bell`."""

    def __init__(self, count: int, bell: Connection) -> None:
        self.jobs: queue.SimpleQueue[_InFlight | None] = queue.SimpleQueue()
        self._bell, self._count = bell, count
        for _ in range(count):
            threading.Thread(target=self._run, name="tlsscope-commit", daemon=True).start()

    def stop(self) -> None:
        for _ in range(self._count):
            self.jobs.put(None)

    def _run(self) -> None:
        while (one := self.jobs.get()) is not None:
            one.receipts = commit_or_retry(one.save, len(one.items))
            one.done.set()
            self._bell.send_bytes(b"")


def run(flow: Flow, requests: Connection, answer: Callable[[int, Receipt], None],
        when_idle: Callable[[], None], idle_seconds: float,
        flush: Callable[[], None] = lambda: None) -> None:
    """Until told to stop (None) or the parent is gone, and what was handed over is
    answered: take what has arrived, keep the readers busy, store what they have read.
    `flush` begins each turn (the answers of a turn go back together)."""
    stop = False
    while not stop or not flow.empty():
        flush()
        due = flow.due()
        timeout = flow.pool.timeout(idle_seconds if due is None else due)
        watched = [*flow.pool.connections(), *([] if stop else [requests]),
                   *([flow.bell] if flow.committing else [])]
        ready = wait(watched, timeout) if watched else []
        if flow.finished(ready):
            for ticket, receipt in flow.finish():
                answer(ticket, receipt)
        if requests in ready:
            arrivals, stop = _arrivals(requests)
            flow.admit(arrivals)
        for ticket, retry in flow.harvest(ready):
            answer(ticket, retry)  # counted by harvest
        flow.dispatch()
        if flow.due() == 0.0:
            flow.begin()
        elif not ready and flow.empty() and not stop:
            when_idle()


def _arrivals(requests: Connection) -> tuple[list[tuple[int, RawInput]], bool]:
    """What is in the pipe now (bursts, each a list; MAX_COMMIT inputs or more, when there
    are), and whether the parent said stop (None)."""
    arrivals: list[tuple[int, RawInput]] = []
    while len(arrivals) < MAX_COMMIT and requests.poll(0):
        try:
            burst = requests.recv()
        except EOFError:  # the parent is gone
            return arrivals, True
        if burst is None:
            return arrivals, True
        arrivals.extend(burst)
    return arrivals, False
