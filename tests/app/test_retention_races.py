"""Retention and an organisation's deletion while reports arrive, on SQLite and PostgreSQL:
before each statement the purge (or the deletion) sends, another store commits a report for
one of the pairs being removed, from a reporter new to it, when it can (a writer that waits
for the purge's locks finishes after it). Afterwards the roll-ups equal a recount, nothing
crashed, and who reports what is kept for the pairs that still have reports."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.app.test_retention import _arrival, _assert_consistent, _doc
from tests.support import sqlite
from tests.support.postgres import PostgresServer
from tlsscope.app import accounts, freshness, org_data, retention
from tlsscope.app.scope import OPERATOR
from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.store import tables as t

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TODAY = NOW.date()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path,
        postgres: PostgresServer | None) -> str:
    if request.param == "sqlite":
        return sqlite.copy(migrated_sqlite, tmp_path)
    if postgres is None:
        pytest.skip("TLSSCOPE_TEST_POSTGRES=skip")
    return postgres.create_database()


def _report(n: int, day: dt.date, domain: str, reporter: str) -> Any:
    doc = _doc(f"race-{n}", day, domain)
    doc["organization-name"] = reporter
    return _arrival(doc, NOW)


@contextmanager
def arriving(store: Store, other: Store, domain: str, days: list[dt.date]) -> Iterator[list[int]]:
    """Before each statement `store` sends from this thread, `other` stores a report for
    `domain` on one of `days` from a new reporter (one at a time; waiting at most 0.2 s for
    it, so that one blocked by the purge's locks goes on after it)."""
    me = threading.get_ident()
    stored: list[int] = []
    pending: list[threading.Thread] = []
    errors: list[BaseException] = []

    def save(n: int) -> None:
        try:
            other.save([_report(n, days[n % len(days)], domain, f"New reporter {n}")])
            stored.append(n)
        except BaseException as exc:  # the test fails on it below
            errors.append(exc)

    def before(*_: Any) -> None:
        if threading.get_ident() != me or len(pending) >= 80 or (
                pending and pending[-1].is_alive()):
            return
        thread = threading.Thread(target=save, args=(len(pending),))
        pending.append(thread)
        thread.start()
        thread.join(0.2)

    event.listen(store.engine, "before_cursor_execute", before)
    try:
        yield stored
    finally:
        event.remove(store.engine, "before_cursor_execute", before)
        for thread in pending:
            thread.join(30)
    assert not errors, errors


def _fill(store: Store, domain: str, days: list[dt.date]) -> None:
    store.save([_report(1000 + n, days[n % len(days)], domain, f"Reporter {n % 7}")
                for n in range(60)])
    freshness.rollups_now(store)


def _reporters_match_reports(store: Store, domain: str) -> None:
    with store.engine.connect() as connection:
        kept = set(connection.execute(select(t.domain_reporters.c.organization_name)
                                      .where(t.domain_reporters.c.domain == domain)).scalars())
        reporting = set(connection.execute(
            select(t.reports.c.organization_name).join(
                t.policies, t.policies.c.report == t.reports.c.id)
            .where(t.policies.c.policy_domain == domain).distinct()).scalars())
    assert kept == reporting


def test_a_purge_while_reports_arrive_for_its_pairs(url: str) -> None:
    days = [TODAY - dt.timedelta(days=n) for n in range(200, 231, 10)]
    with Store.open(url) as store, Store.open(url) as other:
        _fill(store, "busy.example", days)
        with arriving(store, other, "busy.example", [max(days) - dt.timedelta(days=30)]
                      ) as stored:  # the day of the first pages
            result = retention.purge(store, Settings(keep_reports_days=100), NOW, chunk=7)
        assert result.complete and result.reports > 0 and len(stored) > 5
        freshness.rollups_now(store)
        _assert_consistent(store)


def test_an_organisation_deleted_while_reports_arrive_for_its_domains(url: str) -> None:
    days = [TODAY - dt.timedelta(days=n) for n in (3, 4)]
    with Store.open(url) as store, Store.open(url) as other:
        accounts.assign(store, "gone.example", "Gone")
        _fill(store, "gone.example", days)
        with arriving(store, other, "gone.example", days) as stored:
            org_data.delete(store, OPERATOR, "Gone")
        assert len(stored) > 5
        freshness.rollups_now(store)
        _assert_consistent(store)
        _reporters_match_reports(store, "gone.example")
        assert "Gone" not in dict(accounts.organisations(store)).values()


def test_a_report_stored_after_the_deletion_s_last_page(url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The deletion's final step does not take away the roll-ups of a report stored after
    its last page was read: it removes that report's policies as the others."""
    from tlsscope.store import retention_rows

    day = TODAY - dt.timedelta(days=3)
    real = retention_rows.organisation_page
    with Store.open(url) as store:
        accounts.assign(store, "late.example", "Late")
        _fill(store, "late.example", [day])

        def page(*args: Any) -> Any:
            found = real(*args)
            if not found:  # the last page read: a report arrives now
                store.save([_report(1, day, "late.example", "Late reporter")])
            return found

        monkeypatch.setattr(retention_rows, "organisation_page", page)
        org_data.delete(store, OPERATOR, "Late")
        freshness.rollups_now(store)
        _assert_consistent(store)
        _reporters_match_reports(store, "late.example")
