"""Marks only ever inserted (migration 0019): transactions storing reports of the same
domains and days at once do not wait for each other, and a mark whose transaction commits
after a rebuild or a recomputation read the marks is never taken away by it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from sqlalchemy import text

from tests.support import recount
from tlsscope.app import freshness
from tlsscope.parse import read_input
from tlsscope.store import Arrival, Store, findings_rows, recheck_rows, rollups
from tlsscope.store import write as write_module

DAY = dt.date(2026, 11, 23)


def _arrival(n: int, domain: str = "a.example", failed: int = 1) -> Arrival:
    doc = {"organization-name": f"Org {n}", "report-id": f"r{n}", "contact-info": "a@b.c",
           "date-range": {"start-datetime": f"{DAY}T00:00:00Z",
                          "end-datetime": f"{DAY}T23:59:59Z"},
           "policies": [{"policy": {"policy-type": "sts", "policy-domain": domain,
                                    "policy-string": ["version: STSv1", "mode: enforce",
                                                      "mx: mx.example", "max_age: 86400"]},
                         "summary": {"total-successful-session-count": 10,
                                     "total-failure-session-count": failed},
                         "failure-details": [{"result-type": "certificate-expired",
                                              "receiving-mx-hostname": "mx.example",
                                              "failed-session-count": failed}]}]}
    data = json.dumps(doc).encode()
    return Arrival(hashlib.sha256(data).hexdigest(), f"marks/{n}", data,
                   dt.datetime.now(dt.UTC), read_input(data, f"marks/{n}"))


@pytest.fixture
def postgres_url(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("one writer at a time on SQLite")
    return db_url


def test_two_transactions_marking_the_same_pairs_do_not_wait(postgres_url: str) -> None:
    with Store.open(postgres_url) as store:
        store.save([_arrival(0)])  # the pair, the domain and its queue row exist already
        with store.engine.connect() as first, store.engine.connect() as second:
            first.begin()
            write_module.save(first, [_arrival(1)])  # uncommitted: it holds what it wrote
            second.begin()
            second.execute(text("SET LOCAL lock_timeout = '1s'"))  # waiting fails the test
            write_module.save(second, [_arrival(2)])
            second.commit()
            first.commit()
        freshness.rollups_now(store)
        expected = recount.from_reports(store)
        assert sum(expected[0].values()) == 33
        assert recount.from_coarse(store) == expected


def test_a_mark_committed_after_a_rebuild_began_stays(postgres_url: str) -> None:
    with Store.open(postgres_url) as store:
        store.save([_arrival(0)])
        with store.engine.connect() as writer:
            writer.begin()
            write_module.save(writer, [_arrival(1)])  # marked, not committed
            assert freshness.rollups_now(store) == 1  # rebuilt from what was committed
            writer.commit()
        assert store.read(rollups.dirty) == [("a.example", DAY)]  # the late batch's mark
        freshness.rollups_now(store)
        assert store.read(rollups.dirty) == []
        assert recount.from_coarse(store) == recount.from_reports(store)


def test_a_recomputation_takes_away_only_the_marks_it_read(postgres_url: str) -> None:
    with Store.open(postgres_url) as store:
        with store.engine.connect() as early:
            early.begin()
            write_module.save(early, [_arrival(1)])  # its mark gets the smaller id ...
            store.save([_arrival(2)])  # ... but this one commits first
            marks = store.read(findings_rows.stale_marks)  # a recomputation begins
            assert [domain for domain, _ in marks] == ["a.example"]
            early.commit()  # after the marks were read: its batch was not seen
        now = dt.datetime.now(dt.UTC)
        computed = freshness.compute(store, "a.example")
        assert store.write(findings_rows.settle, "a.example", marks[0][1], now,
                           computed) is not None
        # the early batch's mark is left (an id below the newest read, but not read)
        assert store.read(findings_rows.stale_domains) == ["a.example"]
        freshness.findings_now(store)
        assert store.read(findings_rows.stale_domains) == []


def test_marks_of_a_failure_fold_into_the_queue_once(db_url: str) -> None:
    with Store.open(db_url) as store:
        store.save([_arrival(1, "a.example", failed=1)])
        store.save([_arrival(2, "b.example", failed=0)])
        store.save([_arrival(3, "a.example", failed=0)])
        assert store.read(recheck_rows.state, "a.example") is None  # not folded yet
        store.write(recheck_rows.fold_all)
        assert store.read(recheck_rows.failing) == {"a.example"}
        assert store.read(recheck_rows.state, "b.example") is not None
        store.write(recheck_rows.fold_all)  # nothing left to fold: the same queue
        assert store.read(recheck_rows.failing) == {"a.example"}
