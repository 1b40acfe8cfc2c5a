"""Writers (two at once on PostgreSQL, as a node's writer or a fleet's writers are; one on
SQLite) and several rebuilders racing over thousands of batches lose no batch from the coarse
roll-ups; and readers that never rebuild see every batch stored before they asked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support import reads, recount
from tlsscope.app import freshness
from tlsscope.parse import read_input
from tlsscope.store import Arrival, Store
from tlsscope.store import tables as t
from tlsscope.store import write as write_module

DOMAINS = ("a.example", "b.example")
DAYS = (dt.date(2026, 11, 23), dt.date(2026, 11, 24), dt.date(2026, 11, 30))  # two weeks
BATCHES = 600  # each with a report for every (domain, day) pair: 3,600 reports
PAIRS = len(DOMAINS) * len(DAYS)


def _arrival(i: int) -> Arrival:
    day = DAYS[i % len(DAYS)]
    domain = DOMAINS[(i // len(DAYS)) % len(DOMAINS)]
    doc = {"organization-name": f"Org {i % 4}", "report-id": f"r{i}", "contact-info": "a@b.c",
           "date-range": {"start-datetime": f"{day}T00:00:00Z",
                          "end-datetime": f"{day}T23:59:59Z"},
           "policies": [{"policy": {"policy-type": "sts", "policy-domain": domain,
                                    "policy-string": ["version: STSv1", "mode: enforce",
                                                      "mx: mx.example", "max_age: 86400"]},
                         "summary": {"total-successful-session-count": 1 + i % 5,
                                     "total-failure-session-count": i % 2},
                         "failure-details": [{"result-type": "certificate-expired",
                                              "receiving-mx-hostname": "mx.example",
                                              "failed-session-count": 1}] if i % 2 else []}]}
    data = json.dumps(doc).encode()
    digest = hashlib.sha256(data).hexdigest()
    return Arrival(digest, f"race/{i}", data, dt.datetime.now(dt.UTC),
                   read_input(data, f"race/{i}"))


def _weeks(store: Store) -> Counter[str]:
    w = t.reporter_weeks
    with store.engine.connect() as connection:
        return Counter({domain: int(ok) + int(bad) for domain, ok, bad in connection.execute(
            select(w.c.domain, func.sum(w.c.counted_successful), func.sum(w.c.counted_failed))
            .group_by(w.c.domain))})


@pytest.mark.slow
def test_writers_and_three_rebuilders_lose_no_batch(db_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # A commit takes time (an fsync, a network round-trip): widen the window between a
    # batch's writes and its commit, where a rebuilder could take a mark away too early.
    original = write_module.save

    def slow_commit(connection: Any, batch: Any, junk_budget: int = 0) -> Any:
        saved = original(connection, batch, junk_budget)
        time.sleep(0.002)
        return saved

    monkeypatch.setattr(write_module, "save", slow_commit)
    arrivals = [_arrival(i) for i in range(BATCHES * PAIRS)]
    writers = 2 if db_url.startswith("postgresql") else 1
    stores = [Store.open(db_url) for _ in range(4 + writers)]
    writer, rebuilders, reader = stores[0], stores[writers:writers + 3], stores[-1]
    done = threading.Event()
    written = threading.Barrier(writers, action=done.set)
    errors: list[BaseException] = []
    seen: list[tuple[int, int]] = []  # (sessions stored before a read, sessions it saw)

    def write(n: int) -> None:
        try:  # each writer its own batches, side by side, marking the same pairs
            for start in range(n * PAIRS, len(arrivals), writers * PAIRS):
                stores[n].save(arrivals[start:start + PAIRS])
        except BaseException as exc:
            errors.append(exc)
        finally:
            written.wait()

    def rebuild(store: Store) -> None:
        try:
            while not done.is_set():
                freshness.rollups_now(store)
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            while not done.is_set():
                before = sum(recount.from_reports(reader)[0].values())
                stats = reads.stats(reader, None, DAYS[0], DAYS[-1])
                seen.append((before, stats.successful + stats.failed))
        except BaseException as exc:
            errors.append(exc)

    threads = [*(threading.Thread(target=write, args=(n,)) for n in range(writers)),
               threading.Thread(target=read),
               *(threading.Thread(target=rebuild, args=(s,)) for s in rebuilders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert not errors, errors
    try:
        freshness.rollups_now(writer)  # what is still marked; nothing lost means nothing else to do
        with writer.engine.connect() as connection:
            marks = connection.execute(select(func.count()).select_from(t.rollup_dirty))
            assert marks.scalar_one() == 0
        expected = recount.from_reports(writer)
        assert sum(expected[0].values()) == sum(1 + i % 5 + i % 2
                                                for i in range(BATCHES * PAIRS))
        assert recount.from_coarse(writer) == expected
        weeks = _weeks(writer)
        assert weeks == Counter({domain: sum(n for (d, _), n in expected[0].items()
                                             if d == domain) for domain in DOMAINS})
        # A reader never rebuilds, and never sees less than was stored when it asked.
        assert seen and all(saw >= before for before, saw in seen)
    finally:
        for store in stores:
            store.close()
