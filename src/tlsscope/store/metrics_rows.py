"""What /metrics reads (tlsscope.app.metrics): a few grouped queries over every domain at
once, whatever their number, from the coarse roll-ups as readers see them (store/coarse.py:
pairs not rebuilt yet are read from the per-reporter roll-ups; nothing is rebuilt here), the
reporters' last days, the open findings and the latest checks' certificates. The days are
read through their index (migration 0018), so the cost follows the period asked for, not the
history kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from sqlalchemy import case, func, select, tuple_
from sqlalchemy.engine import Connection

from tlsscope.store import coarse
from tlsscope.store import tables as t
from tlsscope.vocab import FindingStatus


class Sessions(NamedTuple):
    domain: str
    policy_type: str
    mode: str
    successful_1d: int  # on the period's last day
    failed_1d: int
    successful: int  # over the whole period
    failed: int


class Failures(NamedTuple):
    domain: str
    result_type: str
    mx: str
    sessions_1d: int
    sessions: int


def _period(first: dt.date, last: dt.date) -> coarse.Where:
    def where(table: Any) -> list[Any]:
        return [table.c.day >= first, table.c.day <= last, table.c.domain != ""]

    return where


def _on(day: Any, last: dt.date, column: Any) -> Any:
    """The sum of `column` over the rows of `last` only."""
    return func.sum(case((day == last, column), else_=0))


def sessions(connection: Connection, first: dt.date, last: dt.date) -> list[Sessions]:
    """Counted sessions (a session listed under two policies of one report counts once, as
    everywhere: store/rows.py) per domain, policy type and mode, on `last` and from `first`
    to `last`: one pass over the period's rows (their index covers the query)."""
    d = coarse.domain_days(connection, _period(first, last))
    query = (select(d.c.domain, d.c.policy_type, d.c.mode,
                    _on(d.c.day, last, d.c.counted_successful),
                    _on(d.c.day, last, d.c.counted_failed),
                    func.sum(d.c.counted_successful), func.sum(d.c.counted_failed))
             .group_by(d.c.domain, d.c.policy_type, d.c.mode))
    return [Sessions(row[0], row[1], row[2], int(row[3]), int(row[4]), int(row[5]),
                     int(row[6])) for row in connection.execute(query)]


def failures(connection: Connection, first: dt.date, last: dt.date) -> list[Failures]:
    """Counted failed sessions per domain, result type and receiving MX ("" when the
    reports did not name it), on `last` and from `first` to `last`."""
    f = coarse.failure_days(connection, _period(first, last))
    total = func.sum(f.c.counted_sessions)
    query = (select(f.c.domain, f.c.result_type, f.c.receiving_mx_hostname,
                    _on(f.c.day, last, f.c.counted_sessions), total)
             .group_by(f.c.domain, f.c.result_type, f.c.receiving_mx_hostname))
    return [Failures(row[0], row[1], row[2], int(row[3]), int(row[4]))
            for row in connection.execute(query) if row[4]]


def reporters(connection: Connection) -> dict[tuple[str, str], tuple[dt.date, dt.date]]:
    """(domain, reporter) → (first day, latest day) it reported: domain_reporters, its
    last_day moved on for the days not rebuilt yet from the per-reporter roll-ups (as
    coarse.py reads them)."""
    dr = t.domain_reporters
    out: dict[tuple[str, str], tuple[dt.date, dt.date]] = {
        (row[0], row[1]): (row[2], row[3]) for row in connection.execute(
            select(dr.c.domain, dr.c.organization_name, dr.c.first_day, dr.c.last_day)
            .where(dr.c.domain != "", dr.c.last_day.is_not(None)))}
    s, m = t.daily_totals, t.rollup_dirty
    pending = connection.execute(
        select(s.c.domain, s.c.organization_name, func.min(s.c.day), func.max(s.c.day))
        .where(tuple_(s.c.domain, s.c.day).in_(select(m.c.domain, m.c.day)), s.c.reports > 0)
        .group_by(s.c.domain, s.c.organization_name))
    for domain, organisation, first, last in pending:
        known = out.get((domain, organisation))
        if known is None:
            out[(domain, organisation)] = (first, last)
        elif last > known[1]:
            out[(domain, organisation)] = (known[0], last)
    return out


def open_findings(connection: Connection) -> list[tuple[str, str, str, int]]:
    """(domain, severity, kind, how many) of the findings not resolved."""
    f = t.findings
    query = (select(f.c.domain, f.c.severity, f.c.kind, func.count())
             .where(f.c.status != FindingStatus.RESOLVED)
             .group_by(f.c.domain, f.c.severity, f.c.kind))
    return [(row[0], row[1], row[2], int(row[3])) for row in connection.execute(query)]


def certificates(connection: Connection) -> list[tuple[str, str, str, str, float]]:
    """(domain, step, host, address, expiry as a Unix time) of the latest conclusive checks:
    the database turns the times into numbers (parsing 50,000 of them in Python costs more
    than the query)."""
    cc = t.check_certificates
    if connection.dialect.name == "sqlite":  # stored as UTC text without its zone
        epoch: Any = func.strftime("%s", cc.c.expires_at)
    else:
        epoch = func.extract("epoch", cc.c.expires_at)
    return [(row[0], row[1], row[2], row[3], float(row[4])) for row in connection.execute(
        select(cc.c.domain, cc.c.step, cc.c.host, cc.c.address, epoch))]
