"""The moments others subscribe to: a stored finding opened or changed, a live check done,
reports stored.

A subscriber is called inside the write transaction that makes the change, with its
connection: what it writes (an alert in an outbox, say) commits or rolls back with the change
itself, so nothing is announced that did not happen and nothing that happened is missed. A
subscriber must be quick and must not commit. Subscribers register at start-up, in every
process that writes (serve wires them; see tlsscope.serve).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy.engine import Connection

from tlsscope.receipts import Saved
from tlsscope.store import Store
from tlsscope.store.findings_rows import Change

__all__ = ["CheckDone", "Connection", "FindingChanged", "ReportsStored", "attach", "check_done",
           "finding_changed", "on_check_done", "on_finding_changed", "on_reports_stored"]


class FindingChanged(NamedTuple):
    change: Change  # the finding, its status and severity now and before ("": it is new)
    at: dt.datetime


class CheckDone(NamedTuple):
    domain: str
    check_id: int
    status: str  # ok | warning | error | inconclusive
    at: dt.datetime


class ReportsStored(NamedTuple):
    """A batch stored: the receipts of its inputs that added reports (`Saved.stored` > 0)."""

    receipts: list[Saved]


_finding_subscribers: list[Callable[[Connection, FindingChanged], None]] = []
_check_subscribers: list[Callable[[Connection, CheckDone], None]] = []
_report_subscribers: list[Callable[[Connection, ReportsStored], None]] = []


def on_reports_stored(fn: Callable[[Connection, ReportsStored], None]) -> None:
    if fn not in _report_subscribers:
        _report_subscribers.append(fn)


def _reports_stored(connection: Connection, saved: list[Saved]) -> None:
    receipts = [each for each in saved if each.stored]
    if receipts and _report_subscribers:
        event = ReportsStored(receipts)
        for fn in _report_subscribers:
            fn(connection, event)


def attach(store: Store) -> Store:
    """Let the subscribers hear of the reports `store` saves (a process that stores calls
    this once for its store: serve's writer, a bulk load)."""
    store.after_save(_reports_stored)
    return store


def on_finding_changed(fn: Callable[[Connection, FindingChanged], None]) -> None:
    if fn not in _finding_subscribers:
        _finding_subscribers.append(fn)


def on_check_done(fn: Callable[[Connection, CheckDone], None]) -> None:
    if fn not in _check_subscribers:
        _check_subscribers.append(fn)


def finding_changed(connection: Connection, change: Change, at: dt.datetime) -> None:
    event = FindingChanged(change, at)
    for fn in _finding_subscribers:
        fn(connection, event)


def check_done(connection: Connection, event: CheckDone) -> None:
    for fn in _check_subscribers:
        fn(connection, event)


def unsubscribe(fn: object) -> None:
    """Take a subscriber away (tests; a process that stops alerting)."""
    for subscribers in (_finding_subscribers, _check_subscribers, _report_subscribers):
        if fn in subscribers:
            subscribers.remove(fn)  # type: ignore[arg-type]
