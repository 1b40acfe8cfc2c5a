"""serve reads each input in a reader process under a time and a memory budget: one that
overruns is set aside (reading_budget) and its neighbours are read and stored as usual.
Issue 13's repro: a mail with 20 DKIM signatures and a nameserver that did not answer held
the writer 64 s, and every good POST waited behind it."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.probe.faults import silent_server
from tests.receive.test_dkim import MAIL, sign
from tlsscope.pipeline import _save
from tlsscope.reader_pool import PooledDkim, ReaderPool
from tlsscope.receipts import Outcome
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings
from tlsscope.store import Store

pytestmark = pytest.mark.server
GOOD = (Path(__file__).parents[1] / "fixtures" / "real" / "rfc8460-appendix-example.json")


def _raw(name: str, data: bytes) -> RawInput:
    return RawInput(name, data, name, dt.datetime.now(dt.UTC), channel="https")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'pool.db'}")
    yield opened
    opened.close()


def test_an_input_that_stalls_is_set_aside_and_its_neighbours_stored(store: Store) -> None:
    with silent_server() as nameserver:  # every DKIM lookup waits for its timeout (3 s)
        settings = Settings(dns_nameserver=nameserver, dkim_verify="live", read_seconds=1.0)
        pool = ReaderPool(settings, live=True, size=2)
        try:
            started = time.monotonic()
            saved = _save(store, [_raw("good.json", GOOD.read_bytes()),
                                  _raw("stall.eml", sign(MAIL)),
                                  _raw("good.json.gz", gzip.compress(GOOD.read_bytes()))],
                          settings, PooledDkim(pool), None, readers=pool)
            took = time.monotonic() - started
            again = _save(store, [_raw("after.json", GOOD.read_bytes().replace(
                b'"2016-04-01T00:00:00Z"', b'"2016-04-02T00:00:00Z"', 1))],
                settings, PooledDkim(pool), None, readers=pool)
        finally:
            pool.close()
    assert [s.outcome for s in saved] == [Outcome.ACCEPTED, Outcome.REJECTED,
                                         Outcome.DUPLICATE]
    assert saved[1].reasons[0].startswith("reading_budget: reading this input took longer")
    assert took < 3, took  # the budget, not the DKIM lookups' time
    assert again[0].outcome in (Outcome.ACCEPTED, Outcome.DUPLICATE)  # the new reader works
    assert [i.source for i in store.quarantine()] == ["stall.eml"]


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
        saved = _save(store, [_raw("bomb.gz", bomb.getvalue()),
                              _raw("good.json", GOOD.read_bytes())],
                      settings, PooledDkim(pool), None, readers=pool)
    finally:
        pool.close()
    assert saved[0].outcome is Outcome.REJECTED
    assert saved[1].outcome is Outcome.ACCEPTED
    assert any("reading_budget" in r or "MemoryError" in r for r in saved[0].reasons), saved[0]
