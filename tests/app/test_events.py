"""The moments others subscribe to (app/events.py): a stored finding's change is handed to
the subscribers inside the write transaction that stores it, on a real SQLite store, with
`freshness.findings_now` making the change. What a subscriber writes there commits with the
change; when the transaction rolls back, neither the change nor what it wrote is there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from tests.support.ingest import ingest_paths
from tests.support.scenarios import Day, write
from tests.support.stories import DOMAIN, expiring_mx2
from tlsscope.app import events, freshness
from tlsscope.store import Store, findings_rows

RENEWED = dt.date(2026, 2, 12)  # the last day of the first batch: mx2's certificate expired
FIRST = dt.datetime(2026, 2, 12, 6, tzinfo=dt.UTC)
SECOND = dt.datetime(2026, 2, 28, 6, tzinfo=dt.UTC)


class Outbox:
    """A subscriber as alerts will be one: it writes each change into a table of its own,
    through the connection it is given, and notes what the store held at that moment."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.heard: list[tuple[str, str, str, list[str], list[str], dt.datetime]] = []
        with store.engine.begin() as connection:
            connection.execute(text("CREATE TABLE outbox (finding_id INTEGER, status TEXT)"))

    def __call__(self, connection: Connection, event: events.FindingChanged) -> None:
        assert connection.in_transaction()
        change = event.change
        inside = [f.status for f in findings_rows.stored(connection, change.domain)]
        outside = [f.status for f in self.store.read(findings_rows.stored, change.domain)]
        self.heard.append((change.kind, change.status, change.before_status, inside, outside,
                           event.at))
        connection.execute(text("INSERT INTO outbox VALUES (:id, :status)"),
                           {"id": change.finding_id, "status": change.status})

    def rows(self) -> list[tuple[int, str]]:
        with self.store.engine.connect() as connection:
            return [(int(a), str(b)) for a, b in connection.execute(
                text("SELECT finding_id, status FROM outbox ORDER BY rowid"))]


@pytest.fixture
def outbox(store: Store) -> Iterator[Outbox]:
    listening = Outbox(store)
    events.on_finding_changed(listening)
    try:
        yield listening
    finally:
        events.unsubscribe(listening)


def _ingest(store: Store, folder: Path, days: list[Day]) -> None:
    ingest_paths(store, write(folder, DOMAIN, days))


def test_a_subscriber_sees_the_change_inside_the_transaction_that_makes_it(
        store: Store, tmp_path: Path, outbox: Outbox) -> None:
    days = expiring_mx2()
    _ingest(store, tmp_path / "a", [d for d in days if d.day <= RENEWED])
    assert freshness.findings_now(store, now=FIRST) == [DOMAIN]
    # Inside the transaction the finding is stored; another connection does not see it yet.
    assert outbox.heard == [("certificate", "open", "", ["open"], [], FIRST)]
    ((finding_id, _, status, _, _),) = store.read(findings_rows.stored, DOMAIN)
    assert status == "open" and outbox.rows() == [(finding_id, "open")]
    assert freshness.findings_now(store, now=FIRST) == []  # nothing changed: nothing said
    assert len(outbox.heard) == 1

    _ingest(store, tmp_path / "b", [d for d in days if d.day > RENEWED])
    assert freshness.findings_now(store, now=SECOND) == [DOMAIN]
    assert outbox.heard[1] == ("certificate", "resolved", "open", ["resolved"], ["open"], SECOND)
    assert outbox.rows() == [(finding_id, "open"), (finding_id, "resolved")]


def test_when_the_transaction_rolls_back_nothing_of_it_is_left(
        store: Store, tmp_path: Path, outbox: Outbox) -> None:
    def broken(_: Connection, __: events.FindingChanged) -> None:
        raise RuntimeError("the outbox is full")

    _ingest(store, tmp_path / "a", [d for d in expiring_mx2() if d.day <= RENEWED])
    events.on_finding_changed(broken)  # after the outbox: it has written its row by then
    try:
        with pytest.raises(RuntimeError):
            freshness.findings_now(store, now=FIRST)
    finally:
        events.unsubscribe(broken)
    assert len(outbox.heard) == 1  # it was called, inside the transaction...
    assert outbox.rows() == []  # ...and what it wrote went back with the change
    assert store.read(findings_rows.stored, DOMAIN) == []
    assert store.read(findings_rows.stale_domains) == [DOMAIN]  # still to compute

    # Computed again without the broken subscriber: the change is made, and said, once.
    assert freshness.findings_now(store, now=FIRST) == [DOMAIN]
    ((finding_id, _, _, _, _),) = store.read(findings_rows.stored, DOMAIN)
    assert outbox.rows() == [(finding_id, "open")]
