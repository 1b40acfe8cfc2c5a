"""A domain's stale mark is taken away only by a recomputation that saw its latest batch: a
batch stored meanwhile, or a recomputation killed half-way, leaves the domain marked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest

from tests.support.scenarios import Day, Failure, report
from tlsscope.app import freshness
from tlsscope.parse import read_input
from tlsscope.store import Arrival, Store, findings_rows

DOMAIN = "shop.example"


def _save(store: Store, org: str, day: dt.date) -> None:
    data = json.dumps(report(DOMAIN, Day(org, day, 100, (
        Failure("certificate-expired", 5, f"mx.{DOMAIN}"),)))).encode()
    store.save([Arrival(hashlib.sha256(data).hexdigest(), "f", data, dt.datetime.now(dt.UTC),
                        read_input(data, "f"))])


def test_a_recomputation_killed_half_way_leaves_the_mark(store: Store,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _save(store, "Google Inc.", dt.date(2026, 11, 30))

    def killed(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt  # as a SIGTERM or kill -9 would stop it

    with monkeypatch.context() as patch:
        patch.setattr(freshness, "compute", killed)
        with pytest.raises(KeyboardInterrupt):
            freshness.findings_now(store)
    assert store.read(findings_rows.stale_domains) == [DOMAIN]
    assert freshness.findings_now(store) == [DOMAIN]
    assert store.read(findings_rows.stale_domains) == []
    assert store.read(findings_rows.stored, DOMAIN)


def test_a_batch_stored_while_computing_keeps_the_mark(store: Store,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _save(store, "Google Inc.", dt.date(2026, 11, 29))
    original = freshness.compute

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        computed = original(*args, **kwargs)
        _save(store, "Microsoft Corporation", dt.date(2026, 11, 30))  # after the facts
        return computed

    with monkeypatch.context() as patch:
        patch.setattr(freshness, "compute", meanwhile)
        freshness.findings_now(store)
    # Its findings miss Microsoft's report.
    assert store.read(findings_rows.stale_domains) == [DOMAIN]
    freshness.findings_now(store)
    assert store.read(findings_rows.stale_domains) == []
    [(_, _, _, data, _)] = [f for f in store.read(findings_rows.stored, DOMAIN)
                            if "certificate" in f.data]
    assert "Microsoft Corporation" in json.loads(data)["reporters"]
