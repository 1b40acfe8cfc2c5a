"""Queries behind the dashboard and the API, each narrowed to the domains a user may see.

`domains` is the list of visible domains, or None for every domain (admins). A report is
visible when one of its policy domains is; findings, checks and stats are per domain.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy import and_, exists, func, select
from sqlalchemy.engine import Connection

from tlsscope.store import coarse
from tlsscope.store import tables as t
from tlsscope.store.models import ReportSummary
from tlsscope.store.queries import list_reports, utc
from tlsscope.vocab import FindingStatus

RECENT_ARRIVALS = 5_000  # the receivers' status reads this many of the latest arrivals


class Receiver(msgspec.Struct, kw_only=True):
    kind: str  # https | smtp | imap | files
    last_at: dt.datetime | None
    last_day: int  # inputs in the 24 hours before the latest arrival overall
    rejected_day: int
    last_rejected_at: dt.datetime | None
    last_rejected_source: str


def _contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match, with LIKE's wildcards taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def last_report_days(connection: Connection, domains: list[str] | None) -> dict[str, dt.date]:
    def where(table: Any) -> list[Any]:
        return [table.c.domain != "", *_within(table, domains)]

    d = coarse.domain_days(connection, where)
    query = select(d.c.domain, func.max(d.c.day)).group_by(d.c.domain)
    return {row[0]: row[1] for row in connection.execute(query)}


def finding_domain(connection: Connection, finding_id: int) -> str | None:
    """The domain a stored finding is about (None: no such finding)."""
    f = t.findings
    row = connection.execute(select(f.c.domain).where(f.c.id == finding_id)).first()
    return None if row is None else str(row[0])


def finding_events(connection: Connection, finding_id: int) -> list[dict[str, Any]]:
    e = t.finding_events
    return [{"at": utc(row[0]), "status": row[1], "severity": row[2]}
            for row in connection.execute(select(e.c.at, e.c.status, e.c.severity)
                                          .where(e.c.finding == finding_id)
                                          .order_by(e.c.at, e.c.id))]


def reports(connection: Connection, domains: list[str] | None, *, domain: str | None = None,
            reporter: str = "", result_type: str = "", since: dt.date | None = None,
            until: dt.date | None = None, limit: int = 50,
            offset: int = 0) -> list[ReportSummary]:
    """Reports, newest first, filtered; only those whose every domain is visible."""
    r, p, f = t.reports, t.policies, t.failure_details
    extra: list[Any] = []
    # EXISTS, not IN: the newest reports are walked in the listing's index order and each is
    # probed by its key, instead of collecting every matching id first.
    if domains is not None:
        extra.append(exists().where(p.c.report == r.c.id, p.c.policy_domain.in_(domains)))
        extra.append(~exists().where(p.c.report == r.c.id, p.c.policy_domain.not_in(domains)))
    if reporter:
        extra.append(_contains(r.c.organization_name, reporter))
    if result_type:
        extra.append(exists().where(f.c.report == r.c.id, f.c.result_type == result_type))
    return list_reports(connection, domain=domain, since=since, until=until, limit=limit,
                        offset=offset, where=and_(*extra) if extra else None)


def report_domains(connection: Connection, key: str) -> list[str]:
    r, p = t.reports, t.policies
    return sorted({row[0] for row in connection.execute(
        select(p.c.policy_domain).join(r, r.c.id == p.c.report).where(r.c.key == key))})


def result_types(connection: Connection, domains: list[str] | None) -> list[str]:
    f = coarse.failure_days(connection, lambda table: _within(table, domains))
    query = select(f.c.result_type).distinct().order_by(f.c.result_type)
    return [row[0] for row in connection.execute(query)]


def receivers(connection: Connection) -> list[Receiver]:
    """Each way in: its latest input, and inputs and rejections over the last day of traffic."""
    a = t.arrivals
    rows = connection.execute(select(a.c.source, a.c.received_at, a.c.outcome)
                              .order_by(a.c.id.desc()).limit(RECENT_ARRIVALS)).all()
    kinds: dict[str, Receiver] = {
        kind: Receiver(kind=kind, last_at=None, last_day=0, rejected_day=0,
                       last_rejected_at=None, last_rejected_source="")
        for kind in ("https", "smtp", "imap", "files")}
    if not rows:
        return list(kinds.values())
    newest = max(utc(row[1]) for row in rows)
    for source, at, outcome in rows:
        kind = source.split(":", 1)[0] if ":" in source else "files"
        entry = kinds[kind if kind in kinds else "files"]
        moment = utc(at)
        if entry.last_at is None or moment > entry.last_at:
            entry.last_at = moment
        recent = newest - moment <= dt.timedelta(days=1)
        entry.last_day += recent
        if outcome == "rejected":
            entry.rejected_day += recent
            if entry.last_rejected_at is None or moment > entry.last_rejected_at:
                entry.last_rejected_at, entry.last_rejected_source = moment, source
    return list(kinds.values())


EXPORT_LIMIT = 100_000  # rows per export


def failure_rows(connection: Connection, domains: list[str] | None, *,
                 domain: str | None = None, reporter: str = "", result_type: str = "",
                 since: dt.date | None = None, until: dt.date | None = None,
                 limit: int = EXPORT_LIMIT) -> list[tuple[Any, ...]]:
    """Failure details with their report and policy, newest first (export columns)."""
    r, p, f = t.reports, t.policies, t.failure_details
    query = (select(r.c.key, r.c.day, r.c.organization_name, p.c.policy_type,
                    p.c.policy_domain, f.c.result_type, f.c.failed_session_count,
                    f.c.receiving_mx_hostname, f.c.receiving_mx_helo, f.c.receiving_ip,
                    f.c.sending_mta_ip, f.c.failure_reason_code, f.c.additional_information)
             .select_from(f.join(r, r.c.id == f.c.report)
                          .join(p, and_(p.c.report == f.c.report, p.c.idx == f.c.policy_idx))))
    if domains is not None:
        query = query.where(p.c.policy_domain.in_(domains))
    if domain:
        query = query.where(p.c.policy_domain == domain)
    if reporter:
        query = query.where(_contains(r.c.organization_name, reporter))
    if result_type:
        query = query.where(f.c.result_type == result_type)
    if since is not None:
        query = query.where(r.c.day >= since)
    if until is not None:
        query = query.where(r.c.day <= until)
    query = query.order_by(r.c.day.desc(), r.c.id.desc(), f.c.policy_idx, f.c.idx).limit(limit)
    return [tuple(row) for row in connection.execute(query)]


def mx_failures(connection: Connection, domain: str, mx: str, since: dt.date,
                until: dt.date) -> list[tuple[dt.date, int]]:
    """Failed sessions per day at one receiving MX (every result type, every reporter)."""
    def where(table: Any) -> list[Any]:
        return [table.c.domain == domain, table.c.day >= since, table.c.day <= until]

    f = coarse.failure_days(connection, where, lambda table: [table.c.receiving_mx_hostname == mx])
    return [(row[0], int(row[1])) for row in connection.execute(
        select(f.c.day, func.sum(f.c.counted_sessions)).group_by(f.c.day).order_by(f.c.day))]


def open_counts(connection: Connection, domains: list[str] | None) -> dict[str, dict[str, int]]:
    """Open (not resolved) findings per domain and severity."""
    f = t.findings
    query = (select(f.c.domain, f.c.severity, func.count())
             .where(f.c.status != FindingStatus.RESOLVED).group_by(f.c.domain, f.c.severity))
    if domains is not None:
        query = query.where(f.c.domain.in_(domains))
    out: dict[str, dict[str, int]] = {}
    for domain, severity, count in connection.execute(query):
        out.setdefault(domain, {})[severity] = int(count)
    return out


def overview_days(connection: Connection, domains: list[str] | None, since: dt.date,
                  until: dt.date) -> dict[str, dict[dt.date, tuple[int, int]]]:
    """Counted (successful, failed) sessions per domain and day, for every domain at once."""
    d = coarse.domain_days(connection, _period(domains, since, until))
    query = (select(d.c.domain, d.c.day, func.sum(d.c.counted_successful),
                    func.sum(d.c.counted_failed)).group_by(d.c.domain, d.c.day))
    out: dict[str, dict[dt.date, tuple[int, int]]] = {}
    for domain, day, ok, failed in connection.execute(query):
        out.setdefault(domain, {})[day] = (int(ok), int(failed))
    return out


def main_policies(connection: Connection, domains: list[str] | None, since: dt.date,
                  until: dt.date) -> dict[str, str]:
    """Per domain, the policy (type and mode) most sessions were measured against."""
    d = coarse.domain_days(connection, _period(domains, since, until))
    total = func.sum(d.c.successful + d.c.failed)
    query = select(d.c.domain, d.c.policy_type, d.c.mode, total).group_by(
        d.c.domain, d.c.policy_type, d.c.mode)
    best: dict[str, tuple[int, str]] = {}
    for domain, kind, mode, sessions in connection.execute(query):
        name = f"{kind} {mode}".strip()
        if domain not in best or (int(sessions), name) > best[domain]:
            best[domain] = (int(sessions), name)
    return {domain: name for domain, (_, name) in best.items()}


def _within(table: Any, domains: list[str] | None) -> list[Any]:
    return [] if domains is None else [table.c.domain.in_(domains)]


def _period(domains: list[str] | None, since: dt.date, until: dt.date) -> coarse.Where:
    def where(table: Any) -> list[Any]:
        return [table.c.day >= since, table.c.day <= until, table.c.domain != "",
                *_within(table, domains)]

    return where
