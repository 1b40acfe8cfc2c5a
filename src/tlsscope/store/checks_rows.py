"""Stored live checks: each run kept with its time; the latest conclusive one per domain is
what findings are corroborated with (analyze/live.py).

A check whose status is inconclusive (a lookup got no answer and no step is an error) is kept
in the history, and is nothing else: not the evidence (`latest` passes over it, so the findings
keep the previous conclusive check's), not the `previous` the next check compares with, not a
reason to recompute findings, and not a check for the schedule (store/recheck_rows.py)."""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from tlsscope.live_check import INCONCLUSIVE, LiveCheck, certificates
from tlsscope.store import recheck_rows
from tlsscope.store import tables as t
from tlsscope.store.write import mark_stale


def save(connection: Connection, check: LiveCheck) -> int:
    """Store a check and mark its domain's findings stale (they gain the new evidence); an
    inconclusive check is no evidence, so they stay as they are."""
    new_id = connection.execute(t.checks.insert().values(
        domain=check.domain, checked_at=check.checked_at, status=check.status,
        data=msgspec.json.encode(check).decode()).returning(t.checks.c.id)).scalar_one()
    conclusive = check.status != INCONCLUSIVE
    if conclusive:
        _certificates(connection, check)
    if conclusive and _has_reports(connection, check.domain):
        mark_stale(connection, [check.domain])
    recheck_rows.checked(connection, check.domain, check.checked_at, conclusive)
    return int(new_id)


def _certificates(connection: Connection, check: LiveCheck) -> None:
    """The domain's certificates are now those this check saw (tables.check_certificates):
    unless a later check is stored already (two nodes checking at once)."""
    cc = t.check_certificates
    newer = connection.execute(select(cc.c.checked_at).where(
        cc.c.domain == check.domain, cc.c.checked_at > check.checked_at).limit(1)).first()
    if newer is not None:
        return
    connection.execute(delete(cc).where(cc.c.domain == check.domain))
    rows = {(c.step, c.host[:255], c.address[:64]): {
        "domain": check.domain, "step": c.step, "host": c.host[:255], "address": c.address[:64],
        "expires_at": c.expires.astimezone(dt.UTC), "checked_at": check.checked_at}
        for c in certificates(check)}
    if rows:
        connection.execute(cc.insert(), list(rows.values()))


def _has_reports(connection: Connection, domain: str) -> bool:
    return connection.execute(select(t.daily_totals.c.domain)
                              .where(t.daily_totals.c.domain == domain).limit(1)).first() \
        is not None


def latest(connection: Connection, domain: str) -> LiveCheck | None:
    """The domain's latest conclusive check: its findings' evidence."""
    c = t.checks
    row = connection.execute(select(c.c.data)
                             .where(c.c.domain == domain, c.c.status != INCONCLUSIVE)
                             .order_by(c.c.checked_at.desc(), c.c.id.desc()).limit(1)).first()
    return None if row is None else msgspec.json.decode(row[0], type=LiveCheck)


def conclusive(connection: Connection, domain: str, limit: int = 10) -> list[LiveCheck]:
    """The domain's latest conclusive checks, newest first: its findings' evidence (a finding
    takes the newest one that says something conclusive about it)."""
    c = t.checks
    return [msgspec.json.decode(row[0], type=LiveCheck) for row in connection.execute(
        select(c.c.data).where(c.c.domain == domain, c.c.status != INCONCLUSIVE)
        .order_by(c.c.checked_at.desc(), c.c.id.desc()).limit(limit))]


def history(connection: Connection, domain: str, limit: int = 50) -> list[LiveCheck]:
    """A domain's checks, newest first."""
    c = t.checks
    return [msgspec.json.decode(row[0], type=LiveCheck) for row in connection.execute(
        select(c.c.data).where(c.c.domain == domain)
        .order_by(c.c.checked_at.desc(), c.c.id.desc()).limit(limit))]


def last_report_id(connection: Connection) -> int:
    return int(connection.execute(select(func.max(t.reports.c.id))).scalar() or 0)
