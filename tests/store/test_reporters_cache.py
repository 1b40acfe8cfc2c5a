"""The writer remembers which (domain, reporter) pairs domain_reporters holds, so a steady
intake skips that statement; but only for a minute (write.KNOWN_SECONDS), so a pair another
process removed (retention, an organisation's deletion) is written again."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from sqlalchemy import delete, func, select

from tlsscope.parse import read_input
from tlsscope.store import Arrival, Store, write
from tlsscope.store import tables as t


def _arrival(n: int) -> Arrival:
    doc = {"organization-name": "Reporter", "report-id": f"r{n}",
           "contact-info": "tls@example.net",
           "date-range": {"start-datetime": f"2026-11-{n:02d}T00:00:00Z",
                          "end-datetime": f"2026-11-{n:02d}T23:59:59Z"},
           "policies": [{"policy": {"policy-type": "no-policy-found",
                                    "policy-domain": "d.example"},
                         "summary": {"total-successful-session-count": 5,
                                     "total-failure-session-count": 0}}]}
    data = json.dumps(doc).encode()
    return Arrival(hashlib.sha256(data).hexdigest(), f"r{n}", data, dt.datetime.now(dt.UTC),
                   read_input(data, f"r{n}"))


def _pairs(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count())
                                      .select_from(t.domain_reporters)).scalar_one())


@pytest.mark.parametrize("seconds, expected", [(0.0, 1), (3600.0, 0)])
def test_a_removed_pair_is_written_again_once_the_cache_expires(
        store: Store, monkeypatch: pytest.MonkeyPatch, seconds: float, expected: int) -> None:
    monkeypatch.setattr(write, "KNOWN_SECONDS", 3600.0)
    store.save([_arrival(1)])
    store.save([_arrival(2)])  # the pair was there already: remembered
    with store.engine.begin() as connection:  # another process removes it
        connection.execute(delete(t.domain_reporters))
    monkeypatch.setattr(write, "KNOWN_SECONDS", seconds)
    store.save([_arrival(3)])
    assert _pairs(store) == expected  # an hour-long cache would hide the removal
