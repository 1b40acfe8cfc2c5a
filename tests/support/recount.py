"""Roll-ups against a recount from the report rows: what every store must keep equal."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Table, func, select

from tlsscope.store import Store
from tlsscope.store import tables as t

Pairs = Counter[tuple[str, str]]


def from_reports(store: Store) -> tuple[Pairs, Pairs]:
    """(domain, day) → counted sessions, and → failed sessions in the failure rows, straight
    from the report rows."""
    r, p, d = t.reports, t.policies, t.failure_details
    sessions: Pairs = Counter()
    failures: Pairs = Counter()
    with store.engine.connect() as connection:
        for domain, day, ok, bad in connection.execute(
                select(p.c.policy_domain, r.c.day, func.sum(p.c.successful), func.sum(p.c.failed))
                .join(r, r.c.id == p.c.report).where(p.c.counted)
                .group_by(p.c.policy_domain, r.c.day)):
            sessions[(domain, str(day))] = int(ok) + int(bad)
        for domain, day, bad in connection.execute(
                select(p.c.policy_domain, r.c.day, func.sum(d.c.failed_session_count))
                .join(r, r.c.id == p.c.report)
                .join(d, (d.c.report == p.c.report) & (d.c.policy_idx == p.c.idx))
                .group_by(p.c.policy_domain, r.c.day)):
            failures[(domain, str(day))] = int(bad)
    return +sessions, +failures


def from_rollups(store: Store) -> tuple[Pairs, Pairs]:
    """The same from the fine roll-ups (daily_totals, daily_failures)."""
    totals, failures = t.daily_totals, t.daily_failures
    return _summed(store, totals, failures)


def from_coarse(store: Store) -> tuple[Pairs, Pairs]:
    """The same from the coarse roll-ups the dashboard reads (domain_days, failure_days),
    once rebuilt."""
    totals, failures = t.domain_days, t.failure_days
    return _summed(store, totals, failures)


def _summed(store: Store, totals: Table, failures: Table) -> tuple[Pairs, Pairs]:
    sessions: Pairs = Counter()
    failed_sessions: Pairs = Counter()
    with store.engine.connect() as connection:
        for domain, day, ok, bad in connection.execute(
                select(totals.c.domain, totals.c.day, func.sum(totals.c.counted_successful),
                       func.sum(totals.c.counted_failed)).group_by(totals.c.domain, totals.c.day)):
            sessions[(domain, str(day))] = int(ok) + int(bad)
        for domain, day, bad in connection.execute(
                select(failures.c.domain, failures.c.day, func.sum(failures.c.sessions))
                .group_by(failures.c.domain, failures.c.day)):
            failed_sessions[(domain, str(day))] = int(bad)
    return +sessions, +failed_sessions
