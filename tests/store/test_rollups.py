"""The dashboard's coarser roll-ups (domain_days, failure_days, reporter_weeks) say exactly
what the per-reporter ones say, for any period, on SQLite and PostgreSQL; and migration 0007's
week arithmetic agrees with Python's in both dialects."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from sqlalchemy import func, select, text

from tests.support import reads
from tests.support.ingest import ingest_paths
from tests.support.scenarios import Day, Failure, write
from tlsscope.store import Store
from tlsscope.store import tables as t

FIRST = dt.date(2026, 9, 1)


def scenario(tmp_path: Path) -> list[Path]:
    rng = random.Random(7)
    days = []
    for offset in range(45):
        day = FIRST + dt.timedelta(days=offset)
        for org in ("Google Inc.", "Microsoft Corporation", "Mail.ru", "Yahoo Inc."):
            if rng.random() < 0.2:
                continue  # reporters skip days
            failures = tuple(Failure(rng.choice(("certificate-expired", "validation-failure")),
                                     rng.randint(1, 9), rng.choice(("mx1.a.example",
                                                                    "mx2.a.example")))
                             for _ in range(rng.choice((0, 0, 1, 2))))
            days.append(Day(org, day, rng.randint(10, 500), failures,
                            mode=rng.choice(("enforce", "testing"))))
    return write(tmp_path / "in", "a.example", days)


def naive_by_reporter(store: Store, since: dt.date, until: dt.date) -> dict[str, tuple[int,
                                                                                        ...]]:
    d = t.daily_totals
    with store.engine.connect() as connection:
        return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in connection.execute(
            select(d.c.organization_name, func.sum(d.c.counted_successful),
                   func.sum(d.c.counted_failed), func.sum(d.c.reports))
            .where(d.c.domain == "a.example", d.c.day >= since, d.c.day <= until)
            .group_by(d.c.organization_name))}


def test_any_period_reads_the_same_from_the_coarse_rollups(store: Store,
                                                           tmp_path: Path) -> None:
    ingest_paths(store, scenario(tmp_path))
    rng = random.Random(3)
    periods = [(FIRST, FIRST + dt.timedelta(days=44))]
    for _ in range(25):
        start = FIRST + dt.timedelta(days=rng.randint(-3, 44))
        periods.append((start, start + dt.timedelta(days=rng.randint(0, 40))))
    for since, until in periods:
        stats = reads.stats(store, "a.example", since, until)
        got = {b.name: (b.successful, b.failed, b.reports) for b in stats.by_reporter}
        assert got == naive_by_reporter(store, since, until), (since, until)
        per_day = reads.facts(store, "a.example", since, until)
        counted = [p for p in per_day.policies if p.counted]
        assert stats.successful == sum(p.successful for p in counted)
        assert stats.failed == sum(p.failed for p in counted)
        failed_rows = sum(r.sessions for r in per_day.failures if r.counted)
        assert sum(b.failed for b in stats.by_result_type) == failed_rows
        assert sum(b.failed for b in stats.by_mx) == failed_rows


def test_week_starts_agree_with_python(store: Store) -> None:
    dialect = store.engine.dialect.name
    week = ("(date_trunc('week', CAST(:day AS date)))::date" if dialect == "postgresql" else
            "date(:day, '-' || ((CAST(strftime('%w', :day) AS INTEGER) + 6) % 7) || ' days')")
    with store.engine.connect() as connection:
        for offset in range(15):
            day = dt.date(2026, 11, 20) + dt.timedelta(days=offset)
            got = connection.execute(text(f"SELECT {week}"), {"day": day.isoformat()}).scalar()
            monday = day - dt.timedelta(days=day.weekday())
            assert str(got)[:10] == monday.isoformat(), day


def test_statistics_can_be_refreshed(store: Store, tmp_path: Path) -> None:
    """After a bulk load `tlsscope ingest` refreshes PostgreSQL's planner statistics."""
    ingest_paths(store, scenario(tmp_path))
    store.analyze()  # a no-op on SQLite
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as connection:
            analysed = connection.exec_driver_sql(
                "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'reports'"
            ).scalar()
        assert analysed is not None
