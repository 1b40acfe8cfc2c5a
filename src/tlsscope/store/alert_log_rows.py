"""The alert log as users read it: each delivery (one alert, or a batch) with its alerts and
every attempt, and the repeats suppressed. tlsscope.alert.log narrows it to what a user may
see."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Connection

from tlsscope.store import tables as t
from tlsscope.store.alerts_rows import alert_data
from tlsscope.store.queries import utc, utc_or_none


class DeliveryLog(NamedTuple):
    id: int
    rule: int
    channel: str
    state: str
    attempts: int
    created_at: dt.datetime
    due_at: dt.datetime
    next_at: dt.datetime
    delivered_at: dt.datetime | None
    last_error: str
    test: bool
    alerts: list[dict[str, Any]]  # key, event, domain, finding, severity, title
    tries: list[dict[str, Any]]  # at, seconds, outcome, status, error


def log(connection: Connection, rule_ids: list[int] | None, limit: int = 100,
        finding: int | None = None, delivery: int | None = None) -> list[DeliveryLog]:
    """The newest deliveries (of these rules; None: all; or that one delivery), with their
    alerts and attempts."""
    d, r, a = t.alert_deliveries, t.alert_rules, t.alerts
    query = select(d, r.c.channel).select_from(d.join(r, r.c.id == d.c.rule))
    if rule_ids is not None:
        query = query.where(d.c.rule.in_(rule_ids))
    if delivery is not None:
        query = query.where(d.c.id == delivery)
    if finding is not None:
        query = query.where(d.c.id.in_(select(a.c.delivery).where(a.c.finding == finding)))
    rows = connection.execute(query.order_by(d.c.id.desc()).limit(limit)).mappings().all()
    ids = [int(row["id"]) for row in rows]
    carried: dict[int, list[dict[str, Any]]] = {}
    for row in connection.execute(select(a.c.delivery, a.c.key, a.c.event, a.c.domain,
                                         a.c.finding, a.c.severity, a.c.data)
                                  .where(a.c.delivery.in_(ids)).order_by(a.c.id)).mappings():
        data = alert_data(row["data"])
        carried.setdefault(int(row["delivery"]), []).append({
            "key": row["key"], "event": row["event"], "domain": row["domain"],
            "finding": row["finding"], "severity": row["severity"],
            "title": str(data.get("title", ""))})
    tries: dict[int, list[dict[str, Any]]] = {}
    at = t.alert_attempts
    for row in connection.execute(select(at).where(at.c.delivery.in_(ids))
                                  .order_by(at.c.id)).mappings():
        tries.setdefault(int(row["delivery"]), []).append({
            "at": utc(row["at"]), "seconds": round(float(row["seconds"]), 3),
            "outcome": row["outcome"], "status": row["status"], "error": row["error"]})
    return [DeliveryLog(
        id=int(row["id"]), rule=int(row["rule"]), channel=row["channel"], state=row["state"],
        attempts=int(row["attempts"]), created_at=utc(row["created_at"]),
        due_at=utc(row["due_at"]), next_at=utc(row["next_at"]),
        delivered_at=utc_or_none(row["delivered_at"]), last_error=row["last_error"],
        test=bool(row["test"]), alerts=carried.get(int(row["id"]), []),
        tries=tries.get(int(row["id"]), [])) for row in rows]


def suppressed_of(connection: Connection, finding: int) -> list[dict[str, Any]]:
    """The alerts a finding caused that were suppressed as repeats (no delivery)."""
    a = t.alerts
    return [{"key": row[0], "rule": int(row[1]), "event": row[2], "created_at": utc(row[3])}
            for row in connection.execute(
                select(a.c.key, a.c.rule, a.c.event, a.c.created_at)
                .where(a.c.finding == finding, a.c.suppressed == True)  # noqa: E712
                .order_by(a.c.id))]
