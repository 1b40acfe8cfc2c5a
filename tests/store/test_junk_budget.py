"""The quarantine has a budget per sender: a sender's junk keeps its raw bytes up to
quarantine_mb_per_source, the oldest losing them first; never an input with an accepted
report, never another sender's junk, never the operator's files (issue 13: 10,000 junk POSTs
left 5,938 quarantined rows of up to 10 MB each)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import pytest

from tests.support import reads
from tlsscope.parse.reader import read_input
from tlsscope.receipts import Outcome
from tlsscope.store import Arrival, Store

GOOD = Path(__file__).parents[1] / "fixtures" / "real" / "rfc8460-appendix-example.json"
KB = 1024


def _arrival(data: bytes, channel: str = "https", peer: str = "192.0.2.7",
             minutes: int = 0) -> Arrival:
    name = f"{channel}:{peer} /v1/tlsrpt" if peer else "junk.bin"
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
    return Arrival(hashlib.sha256(data).hexdigest(), name, data, at, read_input(data, name),
                   channel=channel, peer=peer)


def _junk(size: int = 8 * KB) -> bytes:
    return b"{" + os.urandom(size)  # incompressible, so stored as it is; not JSON


def test_a_senders_oldest_junk_loses_its_bytes_first(store: Store,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    junk = [_junk() for _ in range(6)]
    for n, data in enumerate(junk):  # 6 x 8 KB from one address, a budget of 20 KB
        saved = store.save([_arrival(data, minutes=n)], junk_budget=20 * KB)
        assert saved[0].outcome is Outcome.REJECTED
    kept = [reads.raw(store, hashlib.sha256(d).hexdigest()) is not None for d in junk]
    assert kept == [False, False, False, False, True, True]
    assert reads.raw(store, hashlib.sha256(junk[5]).hexdigest()) == junk[5]
    held = {i.sha256: i for i in reads.quarantine(store)}
    assert len(held) == 6  # every row stays, with its reasons
    dropped = held[hashlib.sha256(junk[0]).hexdigest()]
    assert not dropped.kept and dropped.errors and dropped.size == len(junk[0])
    assert "quarantine over its budget" in caplog.text


def test_an_ipv6_sender_is_its_64_and_others_keep_theirs(store: Store) -> None:
    budget = 20 * KB
    mine = [_junk() for _ in range(4)]
    for n, data in enumerate(mine):  # four addresses of one /64
        store.save([_arrival(data, peer=f"2001:db8:1:2::{n + 1}", minutes=n)],
                   junk_budget=budget)
    other = _junk()
    store.save([_arrival(other, peer="2001:db8:1:3::1", minutes=10)], junk_budget=budget)
    assert [reads.raw(store, hashlib.sha256(d).hexdigest()) is not None for d in mine] == [
        False, False, True, True]
    assert reads.raw(store, hashlib.sha256(other).hexdigest()) == other


def test_accepted_reports_and_the_operators_files_are_never_dropped(store: Store) -> None:
    good = GOOD.read_bytes()
    assert store.save([_arrival(good, minutes=0)], junk_budget=10 * KB)[0].outcome is (
        Outcome.ACCEPTED)
    files = [_junk() for _ in range(3)]
    for n, data in enumerate(files):
        store.save([_arrival(data, channel="file", peer="", minutes=n)], junk_budget=10 * KB)
    for n in range(3):  # the same sender's junk pushes only junk out
        store.save([_arrival(_junk(), minutes=n + 1)], junk_budget=10 * KB)
    assert reads.raw(store, hashlib.sha256(good).hexdigest()) == good
    assert all(reads.raw(store, hashlib.sha256(d).hexdigest()) == d for d in files)


def test_junk_whose_bytes_were_dropped_is_still_known_and_not_read_again(store: Store) -> None:
    first, second = _junk(16 * KB), _junk(16 * KB)
    store.save([_arrival(first, minutes=0)], junk_budget=20 * KB)
    store.save([_arrival(second, minutes=1)], junk_budget=20 * KB)
    digest = hashlib.sha256(first).hexdigest()
    assert reads.raw(store, digest) is None
    assert digest in store.known([digest])
    again = store.save([_arrival(first, minutes=2)._replace(result=None)], junk_budget=20 * KB)
    assert again[0].outcome is Outcome.REJECTED and again[0].reasons
    assert digest not in {d for d, _, _ in reads.inputs(store)}  # nothing to read again


def test_no_budget_keeps_everything(store: Store) -> None:
    junk = [_junk() for _ in range(4)]
    for n, data in enumerate(junk):
        store.save([_arrival(data, minutes=n)])
    assert all(reads.raw(store, hashlib.sha256(d).hexdigest()) == d for d in junk)


def test_a_rejected_input_whose_good_report_was_stored_is_never_dropped(store: Store) -> None:
    """A zip with one good and one bad report is rejected, and its good report stored: it is
    not junk (the reviewer's repro: its bytes were dropped by the next junk)."""
    import io
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("good.json", GOOD.read_bytes())
        zipped.writestr("bad.json", b'{"organization-name": "x"}')
    mixed = archive.getvalue()
    [saved] = store.save([_arrival(mixed, minutes=0)], junk_budget=10 * KB)
    assert saved.outcome is Outcome.REJECTED and saved.stored == 1
    for n in range(4):
        store.save([_arrival(_junk(), minutes=n + 1)], junk_budget=10 * KB)
    assert reads.raw(store, hashlib.sha256(mixed).hexdigest()) == mixed
