"""ingest(raw inputs) = read → store, in batches; the only place that order is written.

Each batch: hash every input; ask the store which are known (those are not read again, so
re-ingesting a stored corpus costs a lookup per input); read the rest; store the batch in one
transaction. Analysis and alerts will hook in here, after the store.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol

import msgspec
from sqlalchemy.exc import OperationalError

from tlsscope import privacy
from tlsscope.notes import error
from tlsscope.parent import exit_with_parent
from tlsscope.parse.reader import read_input
from tlsscope.parse.results import InputResult, Outcome
from tlsscope.parse.values import check_domain
from tlsscope.receipts import DkimVerdict, IngestTotals, Saved
from tlsscope.receive.dkim import DkimVerifier
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings
from tlsscope.store import Arrival, Store

BATCH_INPUTS = 500
BATCH_BYTES = 32 * 1024 * 1024


def ingest(store: Store, raws: Iterable[RawInput], settings: Settings,
           on_saved: Callable[[Saved], None] | None = None, workers: int = 0,
           live: bool = False) -> IngestTotals:
    """Store every input, in batches of one transaction each.

    With `workers` > 0, new inputs are read in that many worker processes while the previous
    batch is being written: reading and writing then overlap on two cores.
    """
    totals = IngestTotals()
    dkim = DkimVerifier.for_intake(settings, live)
    gate = DomainGate.for_intake(settings)

    batches = 0

    def done(prepared: Prepared) -> None:
        nonlocal batches
        batches += 1
        if batches % COLLECT_EVERY == 0:
            gc.collect()
        for saved in prepared.save(store, dkim, gate, quarantine_budget(settings)):
            totals.add(saved)
            if on_saved is not None:
                on_saved(saved)

    # Reading and storing make many small objects and few garbage cycles: rather than let the
    # cyclic collector scan the growing heap every few hundred allocations, collect once every
    # COLLECT_EVERY batches (memory stays flat on a 1 GB mbox).
    collecting = gc.isenabled()
    gc.disable()
    try:
        _ingest(store, raws, settings, workers, totals, done)
    finally:
        if collecting:
            gc.enable()
    if totals.reports_stored >= ANALYZE_AFTER:
        store.analyze()
    return totals


COLLECT_EVERY = 10
# After a bulk load this big, refresh the database's statistics at once: PostgreSQL's planner
# otherwise keeps its estimate of an empty table until autovacuum gets to it, and picks plans
# that sort every report of a domain to show fifty (665 ms instead of 8 ms, measured).
ANALYZE_AFTER = 10_000


def _ingest(store: Store, raws: Iterable[RawInput], settings: Settings, workers: int,
            totals: IngestTotals, done: Callable[[Prepared], None]) -> IngestTotals:
    with Readers(settings, workers) as readers:
        pending: Prepared | None = None
        batch: list[RawInput] = []
        size = 0
        for raw in raws:
            if raw.data is None:  # unreadable or over the cap: nothing to keep
                totals.add(Saved(digest="", source=raw.source, outcome=Outcome.REJECTED,
                                 reasons=[f"unreadable_input: {raw.problem}"]))
                continue
            batch.append(raw)
            size += len(raw.data)
            if len(batch) >= BATCH_INPUTS or size >= BATCH_BYTES:
                prepared = _prepare(store, batch, readers)
                if pending is not None:
                    done(pending)
                pending, batch, size = prepared, [], 0
        if batch:
            prepared = _prepare(store, batch, readers)
            if pending is not None:
                done(pending)
            pending = prepared
        if pending is not None:
            done(pending)
    return totals


class Prepared:
    """A batch hashed, checked against the store, and being read."""

    def __init__(self, raws: list[RawInput], digests: list[str], fresh: list[bool],
                 results: Callable[[], list[InputResult]]) -> None:
        self.raws, self.digests, self.fresh, self.results = raws, digests, fresh, results

    def save(self, store: Store, dkim: DkimSource | None = None,
             gate: DomainGate | None = None, junk_budget: int = 0) -> list[Saved]:
        results = iter(self.results())
        arrivals = []
        refused: dict[int, Saved] = {}
        refusals: dict[str, Saved] = {}  # digest -> its refusal: a second copy gets the same
        for i, (raw, digest, fresh) in enumerate(zip(self.raws, self.digests, self.fresh,
                                                     strict=True)):
            result = next(results) if fresh else None
            if not fresh and digest in refusals:
                refused[i] = msgspec.structs.replace(refusals[digest], source=raw.source)
                continue
            reason = gate.refusal(store, result) if gate and result else None
            if reason is not None:
                refused[i] = refusals[digest] = Saved(
                    digest=digest, source=raw.source, outcome=Outcome.REJECTED,
                    reasons=[reason], refused=True)
                continue
            verdict = dkim.check(raw.data or b"", result) if dkim and result else None
            if gate is not None and result is not None:  # after DKIM: it knows the result
                result = gate.private(store, result)
            arrivals.append(Arrival(digest=digest, source=raw.source, data=raw.data or b"",
                                    received_at=raw.received_at or _now(), result=result,
                                    dkim=verdict, channel=raw.channel, peer=raw.peer))
        saved = iter(save_each_if_need_be(store, arrivals, junk_budget) if arrivals else [])
        return [refused[i] if i in refused else next(saved) for i in range(len(self.raws))]


def save_each_if_need_be(store: Store, arrivals: list[Arrival],
                         junk_budget: int = 0) -> list[Saved]:
    """The batch in one transaction; should that fail for something else than the database
    itself, each input on its own: one that cannot be stored (a value the database refuses)
    is kept in quarantine with the reason, and its neighbours commit."""
    try:
        return store.save(arrivals, junk_budget)
    except OperationalError:
        raise  # the database is unavailable: the senders retry
    except Exception as exc:  # loop guard: find the input that cannot be stored
        if len(arrivals) == 1:
            return [_quarantined(store, arrivals[0], exc, junk_budget)]
    out = []
    for arrival in arrivals:
        try:
            out.extend(store.save([arrival], junk_budget))
        except OperationalError:
            raise
        except Exception as exc:  # loop guard: this input alone is set aside
            out.append(_quarantined(store, arrival, exc, junk_budget))
    return out


def quarantine_budget(settings: Settings) -> int:
    """quarantine_mb_per_source in bytes (0: no budget)."""
    return settings.quarantine_mb_per_source * 1024 * 1024


def _quarantined(store: Store, arrival: Arrival, exc: Exception, budget: int) -> Saved:
    import logging

    why = f"{type(exc).__name__}: {str(exc)[:300]}"
    logging.getLogger("tlsscope.pipeline").error("input could not be stored; quarantined", extra={
        "fields": {"source": arrival.source[:200], "input": arrival.digest, "why": why}})
    kind = arrival.result.kind if arrival.result is not None else ""
    unstorable = InputResult(source=arrival.source, kind=kind, errors=[error(
        "unstorable_input", f"the store refused what was read from this input ({why}); the "
        "raw input is kept")])
    return store.save([arrival._replace(result=unstorable)], budget)[0]


def _prepare(store: Store, raws: list[RawInput], readers: Reading) -> Prepared:
    digests = [hashlib.sha256(raw.data or b"").hexdigest() for raw in raws]
    known = store.known(digests)
    fresh = []
    for digest in digests:
        fresh.append(digest not in known)
        known.add(digest)  # a second copy within this batch is a repeat arrival
    new = [raw for raw, is_new in zip(raws, fresh, strict=True) if is_new]
    return Prepared(raws, digests, fresh, readers.read(new))


def read_and_save(store: Store, raws: list[RawInput], settings: Settings,
                  dkim: DkimSource | None = None, gate: DomainGate | None = None) -> list[Saved]:
    """One batch read in this process and stored in one transaction (a writer without reader
    processes: intake's group commits)."""
    with Readers(settings, 0) as own:
        return _prepare(store, raws, own).save(store, dkim, gate, quarantine_budget(settings))


class DkimSource(Protocol):
    """Who gives an input's DKIM verdict: a DkimVerifier, or the verdicts reader processes found."""

    def check(self, data: bytes, result: InputResult) -> DkimVerdict | None: ...


class Reading(Protocol):
    def read(self, raws: list[RawInput]) -> Callable[[], list[InputResult]]: ...


def _a_label(name: str) -> str:
    """A domain as reports name it (RFC 8460 §4.4: A-labels), lower case, no root dot."""
    return check_domain(name.strip()).value.lower().removesuffix(".")


class DomainGate:
    """What intake stores of a read input, and how.

    `accept_domains`: reports about other policy domains are refused, not stored, and the
    sender is told why (HTTP 403, SMTP 550). A list is fixed; "assigned" follows the domains
    assigned to an organisation, read again at most every few seconds.

    `truncate_sending_ips` (and an organisation's own choice, cached the same way): the
    sending MTA's address in each failure detail is cut to its network (privacy.truncate)
    before the report becomes an Arrival, by the choice of the policy domain's owner.
    """

    REFRESH_SECONDS = 5.0

    def __init__(self, settings: Settings) -> None:
        accept = settings.accept_domains
        self.accepting = bool(accept)
        self.assigned = accept == "assigned"
        self.names = set() if self.assigned else {_a_label(d) for d in accept}
        self.read_at = -self.REFRESH_SECONDS
        self.truncate_default = settings.truncate_sending_ips
        self.truncating: dict[str, bool] = {}  # owned domains whose owner chose
        self.choices_read_at = -self.REFRESH_SECONDS

    @classmethod
    def for_intake(cls, settings: Settings) -> DomainGate:
        return cls(settings)

    def refusal(self, store: Store, result: InputResult) -> str | None:
        if not self.accepting:
            return None
        domains = {p.policy.policy_domain.lower().rstrip(".")
                   for read in result.reports for p in read.report.policies
                   if p.policy.policy_domain}
        if not domains:
            return None
        if self.assigned and time.monotonic() - self.read_at > self.REFRESH_SECONDS:
            from tlsscope.store import accounts

            assigned = store.read(accounts.assigned_domains)
            self.names, self.read_at = {_a_label(n) for n in assigned}, time.monotonic()
        others = sorted(domains - self.names)
        if not others:
            return None
        shown = ", ".join(repr(d[:80]) for d in others[:3]) + (" ..." if len(others) > 3 else "")
        return (f"domain_not_accepted: this installation does not take reports about {shown} "
                "(accept_domains)")

    def private(self, store: Store, result: InputResult) -> InputResult:
        """The result with sending IPs truncated where the domain's owner wants it (the same
        object when nothing changes)."""
        if not result.reports:
            return result
        if time.monotonic() - self.choices_read_at > self.REFRESH_SECONDS:
            from tlsscope.store import retention_rows

            self.truncating = store.read(retention_rows.truncation_choices)
            self.choices_read_at = time.monotonic()
        return privacy.truncated(result, lambda domain: self.truncating.get(
            domain, self.truncate_default))


class Readers:
    """Reads inputs in this process, or in worker processes (results in order)."""

    CHUNK = 64

    def __init__(self, settings: Settings, workers: int) -> None:
        self.settings, self.workers = settings, workers
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Readers:
        return self

    def __exit__(self, *_: object) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def read(self, raws: list[RawInput]) -> Callable[[], list[InputResult]]:
        """Start reading; the returned function waits for the results."""
        if self.workers <= 0 or len(raws) < 2 * self.CHUNK:
            results = [_read(raw, self.settings) for raw in raws]
            return lambda: results
        if self.pool is None:
            context = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(self.workers, mp_context=context,
                                            initializer=_init_worker, initargs=(self.settings,))
        futures = [self.pool.submit(_read_chunk, [
            (r.data or b"", r.source, r.filename, r.declared_type)
            for r in raws[i:i + self.CHUNK]]) for i in range(0, len(raws), self.CHUNK)]
        return lambda: [result for future in futures for result in _decode(future.result())]


def _read(raw: RawInput, settings: Settings) -> InputResult:
    return read_input(raw.data or b"", raw.source, settings=settings, filename=raw.filename,
                      declared_type=raw.declared_type)


_decode = msgspec.msgpack.Decoder(list[InputResult]).decode
_worker_settings = Settings()


def _init_worker(settings: Settings) -> None:
    global _worker_settings
    _worker_settings = settings
    exit_with_parent()


def _read_chunk(chunk: list[tuple[bytes, str, str | None, str | None]]) -> bytes:
    return msgspec.msgpack.encode([
        read_input(data, source, settings=_worker_settings, filename=name, declared_type=declared)
        for data, source, name, declared in chunk])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
