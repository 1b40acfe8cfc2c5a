"""The dashboard's coarse roll-ups (domain_days, failure_days, failure_reporters,
reporter_weeks), kept off the intake's path.

Storing a batch only marks its (domain, day) pairs in `rollup_dirty`, in the same
transaction (one tiny upsert), so acknowledgements do not wait for four more roll-ups. The
pairs are rebuilt from the per-reporter roll-ups (daily_totals, daily_failures) by serve's
analyst process (`Store.fresh`); readers never rebuild: until a pair is rebuilt they read
its figures from the per-reporter roll-ups (store/coarse.py).

Why no batch can be lost (PostgreSQL, READ COMMITTED; SQLite has one writer at a time):
- a writer only inserts marks, rows of their own (migration 0019), in the transaction that
  adds to the per-reporter rows: its mark is seen exactly when its increments are, and no
  writer ever waits for another's mark;
- a rebuilder first takes each pair's transaction-scoped advisory lock, without waiting
  (`pg_try_advisory_xact_lock`: a pair another rebuilder holds waits for the next pass), so
  one pair is rebuilt by one rebuilder at a time, each from a later read than the one
  before; then it deletes the pair's marks, and only then reads, in statements that see every
  batch committed before: a mark the delete did not see (its transaction had not committed)
  stays, and the pair is rebuilt again;
- a week of reporter_weeks is rebuilt under a transaction-scoped advisory lock, so two
  rebuilders of different days of one week write it one after the other, the later one from
  a later read.
A rebuild writes the computed values (an upsert that sets, not adds). Counts only grow, so no
row of a rebuilt pair ever has to be deleted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, text, tuple_, update
from sqlalchemy.engine import Connection

from tlsscope.store import bulk
from tlsscope.store import tables as t

Pair = tuple[str, dt.date]


def mark(connection: Connection, pairs: Iterable[Pair]) -> None:
    """Mark pairs to be rebuilt (rows only ever inserted: no writer waits for another)."""
    rows = [{"domain": domain, "day": day} for domain, day in sorted(set(pairs)) if domain]
    bulk.insert_all(connection, t.rollup_dirty, rows)


def dirty(connection: Connection, domain: str | None = None, limit: int = 1000) -> list[Pair]:
    d = t.rollup_dirty
    query = (select(d.c.domain, d.c.day).distinct().order_by(d.c.domain, d.c.day)
             .limit(limit))
    if domain is not None:
        query = query.where(d.c.domain == domain)
    return [(row[0], row[1]) for row in connection.execute(query)]


def rebuild(connection: Connection, pairs: list[Pair]) -> int:
    """Recompute the coarse roll-ups of those of these (domain, day) pairs that are still
    marked and that no other rebuilder holds; returns how many it rebuilt."""
    pairs = _take(connection, sorted(set(pairs)))
    if not pairs:
        return 0
    d = t.rollup_dirty
    gone = connection.execute(delete(d).where(_where(d, pairs))
                              .returning(d.c.domain, d.c.day))
    pairs = sorted({(row[0], row[1]) for row in gone})
    if not pairs:
        return 0
    _domain_days(connection, pairs)
    _failure_days(connection, pairs)
    _failure_reporters(connection, pairs)
    _reporter_weeks(connection, pairs)
    _last_days(connection, pairs)
    return len(pairs)


def _take(connection: Connection, pairs: list[Pair]) -> list[Pair]:
    """The pairs whose advisory lock this transaction got, never waiting (held until it
    ends)."""
    keys = [f"tlsscope.rollup|{domain}|{day.isoformat()}" for domain, day in pairs]
    taken = _advisory(connection, keys, wait=False)
    return [pair for pair, key in zip(pairs, keys, strict=True) if key in taken]


def lock_weeks(connection: Connection, weeks: list[tuple[str, dt.date]]) -> None:
    """Each (domain, Monday)'s advisory lock for rebuilding reporter_weeks, waited for, in
    one order (weeks sorted: no two rebuilders wait for each other in a circle)."""
    _advisory(connection, [f"tlsscope.reporter_weeks|{domain}|{week.isoformat()}"
                           for domain, week in sorted(weeks)], wait=True)


def _advisory(connection: Connection, keys: list[str], wait: bool) -> set[str]:
    """Take these keys' transaction-scoped advisory locks (PostgreSQL; SQLite has one writer
    at a time: every key), in the order given: each waited for, or (`wait` False) only those
    free now. Returns the keys held."""
    if connection.dialect.name != "postgresql" or not keys:
        return set(keys)
    if wait:
        connection.execute(text("SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) "
                                "FROM unnest(CAST(:keys AS text[])) AS k"), {"keys": keys})
        return set(keys)
    got = connection.execute(
        text("SELECT k FROM unnest(CAST(:keys AS text[])) AS k "
             "WHERE pg_try_advisory_xact_lock(hashtextextended(k, 0))"), {"keys": keys})
    return {row[0] for row in got}


def _where(table: Any, pairs: list[Pair]) -> Any:
    return tuple_(table.c.domain, table.c.day).in_(pairs)


def _domain_days(connection: Connection, pairs: list[Pair]) -> None:
    s = t.daily_totals
    rows = [{"domain": r[0], "day": r[1], "policy_type": r[2], "mode": r[3], "reports": r[4],
             "successful": r[5], "failed": r[6], "counted_successful": r[7],
             "counted_failed": r[8]}
            for r in connection.execute(
                select(s.c.domain, s.c.day, s.c.policy_type, s.c.mode, func.sum(s.c.reports),
                       func.sum(s.c.successful), func.sum(s.c.failed),
                       func.sum(s.c.counted_successful), func.sum(s.c.counted_failed))
                .where(_where(s, pairs))
                .group_by(s.c.domain, s.c.day, s.c.policy_type, s.c.mode))]
    _set(connection, t.domain_days, rows)


def _failure_days(connection: Connection, pairs: list[Pair]) -> None:
    s = t.daily_failures
    rows = [{"domain": r[0], "day": r[1], "policy_type": r[2], "result_type": r[3],
             "receiving_mx_hostname": r[4], "sessions": r[5], "counted_sessions": r[6]}
            for r in connection.execute(
                select(s.c.domain, s.c.day, s.c.policy_type, s.c.result_type,
                       s.c.receiving_mx_hostname, func.sum(s.c.sessions),
                       func.sum(s.c.counted_sessions))
                .where(_where(s, pairs))
                .group_by(s.c.domain, s.c.day, s.c.policy_type, s.c.result_type,
                          s.c.receiving_mx_hostname))]
    _set(connection, t.failure_days, rows)


def _failure_reporters(connection: Connection, pairs: list[Pair]) -> None:
    s = t.daily_failures
    rows = [{"domain": r[0], "result_type": r[1], "receiving_mx_hostname": r[2], "day": r[3],
             "organization_name": r[4], "sessions": r[5]}
            for r in connection.execute(
                select(s.c.domain, s.c.result_type, s.c.receiving_mx_hostname, s.c.day,
                       s.c.organization_name, func.sum(s.c.sessions))
                .where(_where(s, pairs))
                .group_by(s.c.domain, s.c.result_type, s.c.receiving_mx_hostname, s.c.day,
                          s.c.organization_name))]
    _set(connection, t.failure_reporters, rows)


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _reporter_weeks(connection: Connection, pairs: list[Pair]) -> None:
    """The weeks of these days, each from all the days it holds. Every week's advisory lock
    is taken first, in one order (so two rebuilders of days of one week write it one after
    the other, the later one from a later read), then one read and one upsert for them all."""
    s = t.daily_totals
    weeks = sorted({(domain, monday(day)) for domain, day in pairs})
    lock_weeks(connection, weeks)
    sums: dict[tuple[str, dt.date, str], list[int]] = {}
    for domain, day, org, reports, successful, failed in connection.execute(
            select(s.c.domain, s.c.day, s.c.organization_name, func.sum(s.c.reports),
                   func.sum(s.c.counted_successful), func.sum(s.c.counted_failed))
            .where(or_(*(and_(s.c.domain == domain, s.c.day >= week,
                              s.c.day <= week + dt.timedelta(days=6))
                         for domain, week in weeks)))
            .group_by(s.c.domain, s.c.day, s.c.organization_name)):
        total = sums.setdefault((domain, monday(day), org), [0, 0, 0])
        total[0] += int(reports or 0)
        total[1] += int(successful or 0)
        total[2] += int(failed or 0)
    _set(connection, t.reporter_weeks, [
        {"domain": domain, "week": week, "organization_name": org, "reports": v[0],
         "counted_successful": v[1], "counted_failed": v[2]}
        for (domain, week, org), v in sorted(sums.items())])


def _last_days(connection: Connection, pairs: list[Pair]) -> None:
    """Move each reporter's last_day (domain_reporters) on to the latest rebuilt day it
    reported (never back: an older day rebuilt later leaves it)."""
    s, dr = t.daily_totals, t.domain_reporters
    latest = [{"d": r[0], "o": r[1], "day": r[2]} for r in connection.execute(
        select(s.c.domain, s.c.organization_name, func.max(s.c.day))
        .where(_where(s, pairs), s.c.reports > 0)
        .group_by(s.c.domain, s.c.organization_name))]
    if latest:
        connection.execute(
            update(dr).where(dr.c.domain == bindparam("d"),
                             dr.c.organization_name == bindparam("o"),
                             or_(dr.c.last_day.is_(None), dr.c.last_day < bindparam("day")))
            .values(last_day=bindparam("day")), latest)


def _set(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Upsert that sets the measures to the computed values (one statement: store/bulk.py)."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    measures = [c.name for c in table.columns if c.name not in keys]

    def make(insert: Any) -> Any:
        return insert.on_conflict_do_update(
            index_elements=keys, set_={name: insert.excluded[name] for name in measures})

    bulk.upsert(connection, table, rows, f"set:{table.name}", keys, make)
