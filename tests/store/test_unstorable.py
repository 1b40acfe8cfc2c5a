"""One input the database refuses never fails its batch: it is kept in quarantine with the
reason, and its neighbours commit (issue 13: one report with a lone surrogate made 30 good
ones get 503 on every retry, nothing logged). The reader now cleans such strings; here the
result is made by hand, past the reader, to reach the store as a bug in it would."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import msgspec
import pytest

from tests.support import reads
from tlsscope.parse.reader import read_input
from tlsscope.pipeline import save_each_if_need_be
from tlsscope.receipts import Outcome
from tlsscope.store import Arrival, Store

FIX = Path(__file__).parents[1] / "fixtures" / "real"


def _arrival(name: str, data: bytes, poison: bool = False) -> Arrival:
    result = read_input(data, name)
    assert result.reports, result.errors
    if poison:  # a value no database takes: a lone surrogate (and a NUL, for PostgreSQL)
        report = result.reports[0].report
        result.reports[0].report = msgspec.structs.replace(
            report, organization_name="bad\ud800\x00name", report_id="poison-1")
    return Arrival(hashlib.sha256(data).hexdigest(), name, data,
                   dt.datetime.now(dt.UTC), result)


def test_an_unstorable_input_is_quarantined_and_its_neighbours_commit(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    good = [FIX / "rfc8460-appendix-example.json", FIX / "google-mta-sts-exporter-sts.json"]
    base = json.loads(good[0].read_bytes())
    poison_bytes = json.dumps({**base, "report-id": "will-be-poisoned"}).encode()
    batch = [_arrival(good[0].name, good[0].read_bytes()),
             _arrival("poison.json", poison_bytes, poison=True),
             _arrival(good[1].name, good[1].read_bytes())]
    saved = save_each_if_need_be(store, batch)
    assert [s.outcome for s in saved] == [Outcome.ACCEPTED, Outcome.REJECTED, Outcome.ACCEPTED]
    assert saved[1].reasons[0].startswith("unstorable_input: the store refused")
    assert sorted(r.report_id for r in reads.reports(store)) == sorted(
        json.loads(p.read_bytes())["report-id"] for p in good)
    (kept,) = reads.quarantine(store)
    assert kept.source == "poison.json"
    assert any(r.message == "input could not be stored; quarantined" for r in caplog.records)
