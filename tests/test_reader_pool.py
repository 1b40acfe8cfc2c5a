"""serve reads each input in a reader process under a time and a memory budget: one that
overruns is set aside (reading_budget) and its neighbours are read and stored as usual, as
soon as they are read (not after the slow one). Issue 13's repro: a mail with 20 DKIM
signatures and a nameserver that did not answer held the writer 64 s, and every good POST
waited behind it."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import wait
from pathlib import Path

import pytest

from tests.support import reads
from tests.support.dkim import MAIL, sign
from tests.support.faults import silent_server
from tlsscope.reader_pool import ReaderPool
from tlsscope.receipts import Outcome, Receipt, Retry
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings
from tlsscope.store import Saved, Store
from tlsscope.writer_loop import Flow

pytestmark = pytest.mark.server
GOOD = (Path(__file__).parent / "fixtures" / "real" / "rfc8460-appendix-example.json")


def _raw(name: str, data: bytes) -> RawInput:
    return RawInput(name, data, name, dt.datetime.now(dt.UTC), channel="https")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'pool.db'}")
    yield opened
    opened.close()


class Writer:
    """The writer process's loop (writer_loop.run), driven step by step, with the time each
    ticket was answered."""

    def __init__(self, store: Store, pool: ReaderPool, dkim_required: bool = False) -> None:
        self.flow = Flow(store, pool, None, dkim_required=dkim_required)
        self.tickets = 0
        self.answers: dict[int, Receipt] = {}
        self.answered: dict[int, float] = {}

    def send(self, *raws: RawInput) -> list[int]:
        tickets = list(range(self.tickets, self.tickets + len(raws)))
        self.tickets += len(raws)
        self.flow.admit(list(zip(tickets, raws, strict=True)))
        return tickets

    def until_answered(self, tickets: list[int], seconds: float = 30.0) -> list[Saved]:
        out = self._answers(tickets, seconds)
        assert all(isinstance(o, Saved) for o in out), out
        return out  # type: ignore[return-value]

    def retried(self, tickets: list[int]) -> list[str]:
        """The answers of inputs the sender is to send again (each a reason)."""
        out = self._answers(tickets, 30.0)
        assert all(isinstance(o, Retry) for o in out), out
        return [o.reason for o in out if isinstance(o, Retry)]

    def _answers(self, tickets: list[int], seconds: float) -> list[Receipt]:
        deadline = time.monotonic() + seconds
        while not all(t in self.answers for t in tickets) and time.monotonic() < deadline:
            self.flow.dispatch()
            ready = wait(self.flow.pool.connections(), self.flow.pool.timeout(1.0))
            outcomes: list[tuple[int, Receipt]] = [*self.flow.harvest(ready)]
            while self.flow.read:
                outcomes.extend(self.flow.commit())
            for ticket, outcome in outcomes:
                self.answers[ticket] = outcome
                self.answered[ticket] = time.monotonic()
        return [self.answers[t] for t in tickets]


@contextmanager
def _stalling(store: Store) -> Iterator[tuple[Writer, ReaderPool]]:
    """Two readers whose DKIM lookups go to a nameserver that never answers (each waits for
    its 3 s timeout), with a read budget of 2 s."""
    with silent_server() as nameserver:
        settings = Settings(dns_nameserver=nameserver, dkim_verify="live", read_seconds=2.0)
        pool = ReaderPool(settings, live=True, size=2)
        try:
            yield Writer(store, pool), pool
        finally:
            pool.close()


def test_an_input_that_stalls_is_set_aside_and_its_neighbours_stored_meanwhile(
        store: Store) -> None:
    with _stalling(store) as (writer, _):
        started = time.monotonic()
        tickets = writer.send(_raw("stall.eml", sign(MAIL)),
                              _raw("good.json", GOOD.read_bytes()),
                              _raw("good.json.gz", gzip.compress(GOOD.read_bytes())))
        saved = writer.until_answered(tickets)
        again = writer.until_answered(writer.send(_raw("after.json", GOOD.read_bytes(
            ).replace(b'"2016-04-01T00:00:00Z"', b'"2016-04-02T00:00:00Z"', 1))))
    assert [s.outcome for s in saved] == [Outcome.REJECTED, Outcome.ACCEPTED,
                                         Outcome.DUPLICATE]
    assert saved[0].reasons[0].startswith("reading_budget: reading this input took longer")
    stalled, good = (writer.answered[t] - started for t in (tickets[0], tickets[1]))
    assert 2.0 <= stalled < 4, stalled  # the budget, not the DKIM lookups' time
    assert good < 1.5, good  # stored while the stalling one was still being read
    assert again[0].outcome in (Outcome.ACCEPTED, Outcome.DUPLICATE)  # the new reader works
    assert [i.source for i in reads.quarantine(store)] == ["stall.eml"]


def test_inputs_queued_behind_a_slow_one_go_to_another_reader_and_count_once(
        store: Store) -> None:
    """A reader is handed a few small inputs at once; those queued behind one that reads for
    long are sent to the other reader (within WITHDRAW_SECONDS), and the first reader's late
    answers for them are dropped: each is stored once."""
    reports = [GOOD.read_bytes().replace(b"5065427c", f"{n:08x}".encode(), 1)
               for n in range(8)]
    with _stalling(store) as (writer, pool):
        started = time.monotonic()
        tickets = writer.send(_raw("stall.eml", sign(MAIL)),
                              *(_raw(f"good-{i}.json", r) for i, r in enumerate(reports)))
        writer.flow.dispatch()
        queued = [one.key.raw.source for one in list(pool.sent[0])[1:]]
        saved = writer.until_answered(tickets)
    assert queued, "nothing was queued behind the slow input: the test shows nothing"
    assert saved[0].outcome is Outcome.REJECTED
    assert [s.outcome for s in saved[1:]] == [Outcome.ACCEPTED] * len(reports)
    late = max(writer.answered[t] - started for t in tickets[1:])
    assert late < 1.5, late  # not held until the slow one's budget (2 s) ran out
    assert len(reads.reports(store)) == len(reports)


def test_copies_of_an_input_being_read_are_repeats_stored_after_it(store: Store) -> None:
    pool = ReaderPool(Settings(dkim_verify="never"), live=True, size=2)
    try:
        writer = Writer(store, pool)
        first = writer.send(_raw("a.json", GOOD.read_bytes()), _raw("b.json", GOOD.read_bytes()))
        later = writer.send(_raw("c.json", GOOD.read_bytes()))  # while a.json is being read
        saved = writer.until_answered(first + later)
    finally:
        pool.close()
    assert [s.outcome for s in saved] == [Outcome.ACCEPTED, Outcome.DUPLICATE,
                                         Outcome.DUPLICATE]
    assert len(reads.reports(store)) == 1


def test_a_repeat_of_an_input_whose_transaction_failed_is_retried_not_a_duplicate(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The repeat waits for a later transaction than its original's (one input per
    transaction here); the original's fails (the database away): both are told to retry,
    neither is answered as stored."""
    from sqlalchemy.exc import OperationalError

    from tlsscope import writer_loop

    monkeypatch.setattr(writer_loop, "MAX_COMMIT", 1)
    save = store.save
    calls: list[int] = []

    def failing_once(*args: object, **kwargs: object) -> list[Saved]:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT", None, Exception("the database went away"))
        return save(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "save", failing_once)
    pool = ReaderPool(Settings(dkim_verify="never"), live=True, size=1)
    try:
        writer = Writer(store, pool)
        tickets = writer.send(_raw("a.json", GOOD.read_bytes()), _raw("b.json", GOOD.read_bytes()))
        reasons = writer.retried(tickets)
        [again] = writer.until_answered(writer.send(_raw("a.json", GOOD.read_bytes())))
    finally:
        pool.close()
    assert "went away" in reasons[0] and "repeats" in reasons[1], reasons
    assert again.outcome is Outcome.ACCEPTED  # it was not stored: the retry stores it


def test_an_input_over_the_memory_budget_is_set_aside(store: Store) -> None:
    bomb = io.BytesIO()
    with gzip.GzipFile(fileobj=bomb, mode="wb", compresslevel=1) as out:
        chunk = b"0" * (1 << 20)
        for _ in range(600):  # 600 MB inflated, under the inflation caps set below
            out.write(chunk)
    settings = Settings(dkim_verify="never", read_memory_mb=300, max_input_bytes=50 << 20,
                        max_decompressed_bytes=2_000 << 20,
                        max_total_decompressed_bytes=2_000 << 20)
    pool = ReaderPool(settings, live=True, size=1)
    try:
        writer = Writer(store, pool)
        saved = writer.until_answered(writer.send(_raw("bomb.gz", bomb.getvalue()),
                                                  _raw("good.json", GOOD.read_bytes())))
    finally:
        pool.close()
    assert saved[0].outcome is Outcome.REJECTED
    assert saved[1].outcome is Outcome.ACCEPTED
    assert any("reading_budget" in r or "MemoryError" in r for r in saved[0].reasons), saved[0]


def test_required_dkim_that_cannot_be_looked_up_is_retried_not_quarantined(
        store: Store) -> None:
    """A nameserver that does not answer says nothing about the mail: with dkim_required the
    sender is told to try again (the mail is not stored, so not known), and once the DNS
    answers, the same mail is checked and stored."""
    from tests.support.dkim import PUBLIC
    from tests.support.dnsserver import DnsServer

    signed = sign(MAIL)
    with silent_server() as nameserver:
        settings = Settings(dns_nameserver=nameserver, dkim_verify="live", dkim_required=True)
        pool = ReaderPool(settings, live=True, size=1)
        try:
            writer = Writer(store, pool, dkim_required=True)
            [why] = writer.retried(writer.send(_raw("signed.eml", signed)))
        finally:
            pool.close()
    assert why.startswith("DKIM is required and a signing key could not be looked up")
    assert reads.quarantine(store) == [] and reads.reports(store) == []
    records = {"tls2026._domainkey.mailer.example": [
        ("TXT", f"v=DKIM1; k=rsa; s=tlsrpt; p={PUBLIC}")]}
    with DnsServer(records) as dns:
        host, port = dns.address
        settings = Settings(dns_nameserver=f"{host}:{port}", dkim_verify="live",
                            dkim_required=True)
        pool = ReaderPool(settings, live=True, size=1)
        try:
            writer = Writer(store, pool, dkim_required=True)
            [saved] = writer.until_answered(writer.send(_raw("signed.eml", signed)))
        finally:
            pool.close()
    assert saved.outcome is Outcome.ACCEPTED, saved
    with silent_server() as nameserver:  # the same mail again while the DNS is away
        settings = Settings(dns_nameserver=nameserver, dkim_verify="live", dkim_required=True)
        pool = ReaderPool(settings, live=True, size=1)
        try:
            writer = Writer(store, pool, dkim_required=True)
            again = writer.until_answered(writer.send(_raw("signed.eml", signed),
                                                      _raw("copy.eml", signed)))
        finally:
            pool.close()
    assert [s.outcome for s in again] == [Outcome.DUPLICATE] * 2, again  # stored: no retry
