"""When findings are brought up to date (app/freshness.py): stored reports mark their domain,
`findings_now` recomputes the marked ones, keeps each finding's status history, and does
nothing when nothing changed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.support.ingest import ingest_paths
from tests.support.scenarios import write
from tests.support.stories import DOMAIN, expiring_mx2
from tlsscope.app import freshness
from tlsscope.store import Store, findings_rows


def test_stored_findings_keep_their_status_history(store: Store, tmp_path: Path) -> None:
    days = expiring_mx2()
    ingest_paths(store, write(tmp_path / "a", DOMAIN, [d for d in days
                                                       if d.day <= dt.date(2026, 2, 12)]))
    first = dt.datetime(2026, 2, 12, 6, tzinfo=dt.UTC)
    assert freshness.findings_now(store, now=first) == [DOMAIN]
    assert freshness.findings_now(store, now=first) == []  # nothing changed since: nothing to do
    ((_, key, state, _, _),) = store.read(findings_rows.stored, DOMAIN)
    assert key.startswith("certificate|mx2.example.com||certificate-expired")
    assert state == "open"
    ingest_paths(store, write(tmp_path / "b", DOMAIN, [d for d in days
                                                       if d.day > dt.date(2026, 2, 12)]))
    second = dt.datetime(2026, 2, 28, 6, tzinfo=dt.UTC)
    assert freshness.findings_now(store, now=second) == [DOMAIN]
    ((_, _, state, _, _),) = store.read(findings_rows.stored, DOMAIN)
    assert state == "resolved"
    assert store.read(findings_rows.history, DOMAIN)[key] == [
        {"at": first, "status": "open", "severity": "critical"},
        {"at": second, "status": "resolved", "severity": "critical"}]
    # Reading the same reports again changes nothing: recomputation is idempotent.
    ingest_paths(store, write(tmp_path / "b", DOMAIN, [d for d in days
                                                       if d.day > dt.date(2026, 2, 12)]))
    assert freshness.findings_now(store, now=second + dt.timedelta(hours=1)) == []
    assert len(store.read(findings_rows.history, DOMAIN)[key]) == 2
