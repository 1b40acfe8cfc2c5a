"""The coarse roll-ups as readers see them: rebuilt rows, and for the (domain, day) pairs still
marked in `rollup_dirty`, the same figures summed from the per-reporter roll-ups.

Readers never rebuild (a read stays a read, and takes no write lock): each function here is a
subquery with the coarse table's columns. It first asks which pairs of the period are marked
(a tiny query). None, the usual case: the coarse rows. Otherwise one `UNION ALL` of

- the coarse rows of pairs that are not marked, and
- for marked pairs, the fine rows (daily_totals, daily_failures) summed to the coarse key,
  looked up by those pairs rather than by testing every fine row of the period.

A batch commits its fine rows and its marks together and a rebuild its coarse rows and the
marks' removal, so the two halves never miss or double a batch (SQLite reads in one snapshot;
on PostgreSQL a batch committed between the two statements is simply not shown yet).
`where(table)` gives the caller's conditions on the domain and the day (applied to the coarse
rows and to the marks), `extra(table)` those on other columns both tables share (result type,
MX).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, tuple_, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Subquery

from tlsscope.store import tables as t
from tlsscope.store.rollups import monday

Where = Callable[[Any], list[Any]]


def _marked(table: Any) -> Any:
    d = t.rollup_dirty
    return exists().where(d.c.domain == table.c.domain, d.c.day == table.c.day)


MAX_LISTED = 500  # marked pairs named in the query; more: found from the marks themselves


def _merged(connection: Connection, name: str, coarse: Any, fine: Any, keys: list[str],
            measures: list[str], where: Where, extra: Where) -> Subquery:
    d = t.rollup_dirty
    columns = [*(coarse.c[k] for k in keys), *(coarse.c[m] for m in measures)]
    # Which pairs of the period are marked: usually none (the analyst keeps up), and then the
    # coarse rows are all there is to read; a few are named; many are found from the marks.
    listed = connection.execute(select(d.c.domain, d.c.day).distinct().where(*where(d))
                                .limit(MAX_LISTED + 1)).all()
    if not listed:
        return select(*columns).where(*where(coarse), *extra(coarse)).subquery(name)
    if len(listed) <= MAX_LISTED:
        pairs = sorted((row[0], row[1]) for row in listed)
        fresh = tuple_(coarse.c.domain, coarse.c.day).not_in(pairs)
        # an OR of key lookups: SQLite scans the table for a row-value IN over a literal list
        marked = or_(*(and_(fine.c.domain == domain, fine.c.day == day)
                       for domain, day in pairs))
    else:
        fresh = ~_marked(coarse)
        # `(domain, day) IN (marked pairs)`, with the period's conditions on the marks: SQLite
        # then looks the marked pairs up in the fine table's key, not the period's fine rows.
        marked = tuple_(fine.c.domain, fine.c.day).in_(
            select(d.c.domain, d.c.day).where(*where(d)))
    rebuilt = select(*columns).where(*where(coarse), *extra(coarse), fresh)
    pending = (select(*(fine.c[k] for k in keys),
                      *(func.sum(fine.c[m]).label(m) for m in measures))
               .where(marked, *extra(fine))
               .group_by(*(fine.c[k] for k in keys)))
    return union_all(rebuilt, pending).subquery(name)


def _nothing(_: Any) -> list[Any]:
    return []


def domain_days(connection: Connection, where: Where) -> Subquery:
    """Like t.domain_days (per domain, day, policy type and mode)."""
    return _merged(connection, "domain_days", t.domain_days, t.daily_totals,
                   ["domain", "day", "policy_type", "mode"],
                   ["reports", "successful", "failed", "counted_successful", "counted_failed"],
                   where, _nothing)


def failure_days(connection: Connection, where: Where, extra: Where = _nothing) -> Subquery:
    """Like t.failure_days (per domain, day, policy type, result type and MX)."""
    return _merged(connection, "failure_days", t.failure_days, t.daily_failures,
                   ["domain", "day", "policy_type", "result_type", "receiving_mx_hostname"],
                   ["sessions", "counted_sessions"], where, extra)


def failure_reporters(connection: Connection, where: Where,
                      extra: Where = _nothing) -> Subquery:
    """Like t.failure_reporters (who reported each result type at each MX, per day)."""
    return _merged(connection, "failure_reporters", t.failure_reporters, t.daily_failures,
                   ["domain", "result_type", "receiving_mx_hostname", "day",
                    "organization_name"], ["sessions"], where, extra)


MAX_MARKED_WEEKS = 200  # more marked weeks than this: read the period per day


def by_reporter_parts(connection: Connection, domain: str | None, since: dt.date,
                      until: dt.date) -> list[Any]:
    """Selects of (org, reports, ok, bad) rows whose sums are the counted sessions per reporter
    over since..until: whole weeks (Monday to Sunday) from reporter_weeks, except weeks with a
    marked day, and every other day from daily_totals. A 90-day period reads about a seventh
    of the rows it would per day."""
    w, d = t.reporter_weeks, t.daily_totals
    per_day = [_rows(d, [d.c.day >= since, d.c.day <= until, *_domain(d, domain)])]
    try:
        first_week = since + dt.timedelta(days=(7 - since.weekday()) % 7)
        last_week = until - dt.timedelta(days=(until.weekday() + 1) % 7 + 6)
        last_sunday = last_week + dt.timedelta(days=6)
    except OverflowError:  # a period at the calendar's very ends: read it per day
        return per_day
    if first_week > last_week:
        return per_day
    marked = _marked_weeks(connection, domain, first_week, last_sunday)
    if marked is None:
        return per_day
    weeks = [w.c.week >= first_week, w.c.week <= last_week, *_domain(w, domain)]
    if marked:
        weeks.append(tuple_(w.c.domain, w.c.week).not_in(sorted(marked)))
    days = [or_(and_(d.c.day >= since, d.c.day < first_week),
                and_(d.c.day > last_sunday, d.c.day <= until),
                *(and_(d.c.domain == name, d.c.day >= week,
                       d.c.day <= week + dt.timedelta(days=6))
                  for name, week in sorted(marked))), *_domain(d, domain)]
    return [_rows(w, weeks), _rows(d, days)]


def _marked_weeks(connection: Connection, domain: str | None, first_week: dt.date,
                  last_sunday: dt.date) -> set[tuple[str, dt.date]] | None:
    """The (domain, Monday) of weeks with a marked day; None when there are too many."""
    m = t.rollup_dirty
    query = select(m.c.domain, m.c.day).distinct().where(
        m.c.day >= first_week, m.c.day <= last_sunday, *_domain(m, domain))
    rows = connection.execute(query.limit(MAX_MARKED_WEEKS + 1)).all()
    if len(rows) > MAX_MARKED_WEEKS:
        return None
    return {(name, monday(day)) for name, day in rows}


def _domain(table: Any, domain: str | None) -> list[Any]:
    return [] if domain is None else [table.c.domain == domain]


def _rows(table: Any, where: list[Any]) -> Any:
    return select(table.c.organization_name.label("org"), table.c.reports.label("reports"),
                  table.c.counted_successful.label("ok"),
                  table.c.counted_failed.label("bad")).where(*where)
