"""The store-to-analysis path: scenario reports ingested as files into a real SQLite store
give back, as facts, exactly what tests/support/facts.py `reported` builds in memory; so the
detector tests that build their facts in memory (tests/analyze/) hold for stored reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import reads
from tests.support.facts import reported
from tests.support.ingest import ingest_paths
from tests.support.scenarios import Day, Failure, daily, write
from tests.support.stories import DOMAIN, REPORTERS, START, expiring_mx2, healthy
from tlsscope.analyze.detectors import detect
from tlsscope.store import Store


def every_kind_of_day() -> list[Day]:
    """A day of each mode (enforce, testing, dane, no policy), failures with and without a
    receiving IP, an MX name or a reason code, an MX in capitals with a trailing dot, a
    sending IP, two failure rows in one report and reporters on the same days."""
    days = healthy(3)
    days += [Day("Google LLC", START + dt.timedelta(days=3), 100, [
                 Failure("certificate-expired", 4, f"MX2.{DOMAIN}.", receiving_ip="192.0.2.2",
                         reason="X509_V_ERR_CERT_HAS_EXPIRED"),
                 Failure("starttls-not-supported", 2, f"mx3.{DOMAIN}", receiving_ip="",
                         sending_ip="203.0.113.5")]),
             Day("Mail.ru", START + dt.timedelta(days=3), 0, [
                 Failure("sts-policy-fetch-error", 3, "", receiving_ip="",
                         reason="bad https response code: 404")], mode="testing"),
             Day("Postfix Org", START + dt.timedelta(days=4), 50,
                 [Failure("tlsa-invalid", 1, f"mx1.{DOMAIN}")], mode="dane"),
             Day("Yahoo", START + dt.timedelta(days=5), 20, mode="none")]
    return days


STORIES: dict[str, Callable[[], list[Day]]] = {
    "every kind of day": every_kind_of_day,
    "an expiring certificate": expiring_mx2,
    "healthy testing weeks": lambda: healthy(28, mode="testing"),
    "three reporters a day, one silent": lambda: [
        Day(org, day, ok) for day in daily(START, 10) for org, ok in REPORTERS[::2]],
}


@pytest.mark.parametrize("story", STORIES)
def test_the_store_gives_the_facts_built_in_memory(store: Store, tmp_path: Path,
                                                   story: str) -> None:
    days = STORIES[story]()
    ingest_paths(store, write(tmp_path / "r", DOMAIN, days))
    today = dt.datetime.now(dt.UTC).date()
    first, last = min(d.day for d in days), max(d.day for d in days)
    inside = (first + dt.timedelta(days=1), last - dt.timedelta(days=1))
    for since, until in ((first, last), inside):
        stored = reads.facts(store, DOMAIN, since, until)
        assert stored == reported(DOMAIN, days, since, until, received=today)
        # and so the detectors find the same: `received` is for analyze/confirm.py only
        assert detect(stored) == detect(reported(DOMAIN, days, since, until))


def test_a_report_ingested_twice_is_stored_once(store: Store, tmp_path: Path) -> None:
    days = healthy(2)
    ingest_paths(store, write(tmp_path / "a", DOMAIN, days))
    ingest_paths(store, write(tmp_path / "b", DOMAIN, [*days, *healthy(3)]))
    today = dt.datetime.now(dt.UTC).date()
    assert reads.facts(store, DOMAIN, START, START + dt.timedelta(days=2)) == reported(
        DOMAIN, [*days, *healthy(3)], received=today)
