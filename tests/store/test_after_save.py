"""What others hear of a save (Store.after_save, relayed by tlsscope.app.events): inside the
batch's transaction, only reports actually added, and nothing when the batch rolls back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Connection

from tests.support import reads
from tests.support.scenarios import Day, Failure, report
from tlsscope.app import events
from tlsscope.parse import read_input
from tlsscope.store import Arrival, Store

DOMAIN = "shop.example"


def _arrival(org: str) -> Arrival:
    data = json.dumps(report(DOMAIN, Day(org, dt.date(2026, 11, 30), 100, (
        Failure("certificate-expired", 5, f"mx.{DOMAIN}"),)))).encode()
    return Arrival(hashlib.sha256(data).hexdigest(), "f", data, dt.datetime.now(dt.UTC),
                   read_input(data, "f"))


@pytest.fixture
def heard() -> Iterator[list[events.ReportsStored]]:
    got: list[events.ReportsStored] = []

    def listen(connection: Connection, event: events.ReportsStored) -> None:
        assert connection.in_transaction()  # the batch's own transaction
        got.append(event)

    events.on_reports_stored(listen)
    yield got
    events.unsubscribe(listen)


def test_stored_reports_are_heard_once(store: Store,
                                       heard: list[events.ReportsStored]) -> None:
    events.attach(store)
    events.attach(store)  # attaching twice relays once
    first, second = _arrival("Google Inc."), _arrival("Microsoft Corporation")
    store.save([first, second])
    assert [[r.digest for r in e.receipts] for e in heard] == [[first.digest, second.digest]]
    store.save([first])  # a duplicate adds no report: nothing to hear
    assert len(heard) == 1
    third = _arrival("Mail.ru")
    store.save([first, third])  # only what it adds
    assert [r.digest for r in heard[1].receipts] == [third.digest]


def test_a_subscriber_that_fails_takes_the_batch_back(store: Store) -> None:
    def broken(_: Connection, __: events.ReportsStored) -> None:
        raise RuntimeError("the outbox is full")

    events.attach(store)
    events.on_reports_stored(broken)
    try:
        with pytest.raises(RuntimeError):
            store.save([_arrival("Google Inc.")])
    finally:
        events.unsubscribe(broken)
    assert reads.reports(store) == []  # the batch and what it announced: neither happened
