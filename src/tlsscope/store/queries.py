"""Read queries: lists, one report, quarantine, statistics. Results are domain objects."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import msgspec
from sqlalchemy import and_, exists, func, select, union_all
from sqlalchemy.engine import Connection

from tlsscope.notes import Note, Severity
from tlsscope.policy_text import parse_sts_lines
from tlsscope.report import DateRange, FailureDetail, Policy, PolicyResult, Report, Summary
from tlsscope.store import coarse
from tlsscope.store import tables as t
from tlsscope.store.models import (
    Breakdown,
    DayTotal,
    DomainFacts,
    DomainStats,
    FailureGroup,
    FailureRow,
    PolicyDay,
    Provenance,
    Repeat,
    ReportSummary,
    StoredInput,
    StoredReport,
)
from tlsscope.vocab import PolicyType

_STS = PolicyType.STS.value  # bound once: compared per policy row


def utc(value: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes; everything stored is UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else utc(value)


def findings(text: str, severity: Severity = Severity.WARNING) -> list[Note]:
    return [Note(f["code"], f["message"], f.get("path", ""), severity)
            for f in msgspec.json.decode(text)]


def list_reports(connection: Connection, *, domain: str | None, since: dt.date | None,
                 until: dt.date | None, limit: int, offset: int,
                 where: Any = None) -> list[ReportSummary]:
    r, p = t.reports, t.policies
    query = select(r)
    if where is not None:
        query = query.where(where)
    if domain is not None:
        query = query.where(exists().where(p.c.report == r.c.id,
                                           p.c.policy_domain == domain.lower()))
    if since is not None:
        query = query.where(r.c.day >= since)
    if until is not None:
        query = query.where(r.c.day <= until)
    # Newest day first, then the latest stored: SQLite walks ix_reports_day (day, rowid)
    # backwards, so a page costs its own rows, not a sort of every report.
    query = query.order_by(r.c.day.desc(), r.c.id.desc())
    rows = connection.execute(query.limit(limit).offset(offset)).mappings().all()
    domains = _domains(connection, [row["id"] for row in rows])
    return [ReportSummary(
        key=row["key"], organization_name=row["organization_name"],
        report_id=row["report_id"], day=row["day"], start=utc(row["start_at"]),
        end=utc(row["end_at"]), domains=domains.get(row["id"], []),
        successful=int(row["successful"]), failed=int(row["failed"]),
        warnings=len(msgspec.json.decode(row["warnings"])), input_sha256=row["input_sha256"],
    ) for row in rows]


def _domains(connection: Connection, reports: list[int]) -> dict[int, list[str]]:
    if not reports:
        return {}
    query = (select(t.policies.c.report, t.policies.c.policy_domain).distinct()
             .where(t.policies.c.report.in_(reports)))
    out: dict[int, list[str]] = {}
    for report, domain in connection.execute(query):
        out.setdefault(report, []).append(domain)
    return {report: sorted(values) for report, values in out.items()}


def find_report(connection: Connection, key_prefix: str) -> list[str]:
    """Full keys starting with a prefix (like a short git hash)."""
    prefix = key_prefix.lower()
    query = select(t.reports.c.key).where(t.reports.c.key.like(f"{_escape(prefix)}%",
                                                                 escape="\\")).limit(2)
    return list(connection.execute(query).scalars())


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_report(connection: Connection, key: str) -> StoredReport | None:
    row = connection.execute(select(t.reports).where(t.reports.c.key == key)).mappings().first()
    if row is None:
        return None
    pk = row["id"]
    policy_rows = connection.execute(
        select(t.policies).where(t.policies.c.report == pk).order_by(t.policies.c.idx)
    ).mappings().all()
    detail_rows = connection.execute(
        select(t.failure_details).where(t.failure_details.c.report == pk)
        .order_by(t.failure_details.c.policy_idx, t.failure_details.c.idx)).mappings().all()
    details: dict[int, list[FailureDetail]] = {}
    for d in detail_rows:
        details.setdefault(d["policy_idx"], []).append(_detail(d))
    entries = [PolicyResult(
        policy=Policy(policy_type=p["policy_type"], policy_domain=p["policy_domain"] or None,
                      policy_string=_json(p["policy_strings"]), mx_host=_json(p["mx_host"])),
        summary=Summary(total_successful_session_count=p["successful"],
                        total_failure_session_count=p["failed"]),
        failure_details=details.get(p["idx"], []) if p["details_listed"] else None,
    ) for p in policy_rows]
    report = Report(organization_name=row["organization_name"],
                    date_range=DateRange(start_datetime=utc(row["start_at"]),
                                         end_datetime=utc(row["end_at"])),
                    report_id=row["report_id"], policies=entries,
                    contact_info=row["contact_info"])
    source = get_input(connection, row["input_sha256"])
    assert source is not None  # a foreign key guarantees it
    repeats = connection.execute(
        select(t.report_repeats).where(t.report_repeats.c.report == pk)
        .order_by(t.report_repeats.c.id)).mappings().all()
    return StoredReport(
        key=key, report=report, warnings=findings(row["warnings"]),
        extras=msgspec.json.decode(row["extras"]), originals=msgspec.json.decode(row["originals"]),
        location=row["location"], counted=[bool(p["counted"]) for p in policy_rows],
        stored_at=utc(row["stored_at"]), source=source,
        repeats=[Repeat(kind=r["kind"], input_sha256=r["input_sha256"], seen_at=utc(r["seen_at"]))
                 for r in repeats],
        provenance=Provenance(channel=row["channel"], peer=row["peer"],
                              authenticated=bool(row["authenticated"]),
                              reporter_new=bool(row["reporter_new"])))


def _json(text: str | None) -> Any:
    return None if text is None else msgspec.json.decode(text)


def _detail(d: Any) -> FailureDetail:
    return FailureDetail(
        result_type=d["result_type"], failed_session_count=d["failed_session_count"],
        sending_mta_ip=d["sending_mta_ip"], receiving_mx_hostname=d["receiving_mx_hostname"],
        receiving_mx_helo=d["receiving_mx_helo"], receiving_ip=d["receiving_ip"],
        additional_information=d["additional_information"],
        failure_reason_code=d["failure_reason_code"])


def get_input(connection: Connection, digest: str) -> StoredInput | None:
    row = connection.execute(select(t.inputs).where(t.inputs.c.sha256 == digest)).mappings().first()
    if row is None:
        return None
    count = connection.execute(select(func.count()).select_from(t.arrivals)
                               .where(t.arrivals.c.input_sha256 == digest)).scalar_one()
    return _stored_input(row, int(count))


def _stored_input(row: Any, arrivals: int) -> StoredInput:
    return StoredInput(sha256=row["sha256"], source=row["source"],
                       received_at=utc(row["received_at"]), size=row["size"], kind=row["kind"],
                       outcome=row["outcome"], errors=findings(row["errors"], Severity.ERROR),
                       warnings=findings(row["warnings"]), arrivals=arrivals,
                       kept=row["codec"] != "dropped",
                       dkim_result=row["dkim_result"], dkim_domain=row["dkim_domain"],
                       dkim_aligned=row["dkim_aligned"], dkim_tlsrpt_key=row["dkim_tlsrpt_key"],
                       dkim_detail=row["dkim_detail"])


def quarantine(connection: Connection) -> list[StoredInput]:
    """The rejected inputs, oldest first, without their raw bytes (up to 10 MB each)."""
    i = t.inputs
    arrivals = (select(func.count()).select_from(t.arrivals)
                .where(t.arrivals.c.input_sha256 == i.c.sha256).scalar_subquery())
    query = (select(*[c for c in i.c if c.name != "raw"], arrivals.label("n"))
             .where(i.c.outcome == "rejected").order_by(i.c.received_at))
    return [_stored_input(row, int(row["n"])) for row in connection.execute(query).mappings()]


def stats(connection: Connection, domain: str | None, since: dt.date,
          until: dt.date) -> DomainStats:
    # Per day and per policy: the roll-up without reporters (a few rows a day); per reporter:
    # weeks and days (coarse.by_reporter_parts); failures by result type and MX: their roll-up
    # without reporters. Pairs not rebuilt yet are read from the fine roll-ups (store/coarse).
    def where(table: Any) -> list[Any]:
        return [table.c.day >= since, table.c.day <= until,
                *([] if domain is None else [table.c.domain == domain.lower()])]

    dd, f = coarse.domain_days(connection, where), coarse.failure_days(connection, where)
    days = [DayTotal(day=row["day"], reports=int(row["reports"]),
                     successful=int(row["successful"]), failed=int(row["failed"]))
            for row in connection.execute(
                select(dd.c.day, func.sum(dd.c.reports).label("reports"),
                       func.sum(dd.c.counted_successful).label("successful"),
                       func.sum(dd.c.counted_failed).label("failed"))
                .group_by(dd.c.day).order_by(dd.c.day)).mappings()]
    by_policy = [Breakdown(name=f"{row['policy_type']} {row['mode']}".strip(),
                           successful=int(row["successful"]), failed=int(row["failed"]),
                           reports=int(row["reports"]))
                 for row in connection.execute(
                     select(dd.c.policy_type, dd.c.mode,
                            func.sum(dd.c.successful).label("successful"),
                            func.sum(dd.c.failed).label("failed"),
                            func.sum(dd.c.reports).label("reports"))
                     .group_by(dd.c.policy_type, dd.c.mode)
                     .order_by(func.sum(dd.c.successful + dd.c.failed).desc())).mappings()]
    by_reporter = _by_reporter(connection, domain.lower() if domain else None, since, until)
    by_result = _failures_by(connection, f, f.c.result_type)
    by_mx = _failures_by(connection, f, f.c.receiving_mx_hostname)
    return DomainStats(
        domain=domain, since=since, until=until, successful=sum(x.successful for x in days),
        failed=sum(x.failed for x in days), reports=sum(x.reports for x in days), days=days,
        by_policy=by_policy, by_reporter=by_reporter, by_result_type=by_result, by_mx=by_mx)


def _by_reporter(connection: Connection, domain: str | None, since: dt.date,
                 until: dt.date) -> list[Breakdown]:
    rows = union_all(*coarse.by_reporter_parts(connection, domain, since, until)).subquery()
    query = (select(rows.c.org, func.sum(rows.c.ok).label("ok"),
                    func.sum(rows.c.bad).label("bad"), func.sum(rows.c.reports).label("reports"))
             .group_by(rows.c.org).order_by(func.sum(rows.c.ok + rows.c.bad).desc(),
                                            rows.c.org))
    return [Breakdown(name=row["org"], successful=int(row["ok"]), failed=int(row["bad"]),
                      reports=int(row["reports"])) for row in connection.execute(query).mappings()]


def _failures_by(connection: Connection, f: Any, column: Any) -> list[Breakdown]:
    total = func.sum(f.c.counted_sessions)
    query = (select(column.label("name"), total.label("sessions")).group_by(column)
             .order_by(total.desc()))
    return [Breakdown(name=row["name"] or "(not given)", successful=None,
                      failed=int(row["sessions"]))
            for row in connection.execute(query).mappings() if row["sessions"]]


REPORTER_GROUPS = 3  # failure groups whose reporters are named (the summary tells 3)


def failure_groups(connection: Connection, domain: str, since: dt.date,
                   until: dt.date) -> list[FailureGroup]:
    """Failures by result type and receiving MX, most sessions first, from the per-day
    roll-up; the reporters of the largest groups from the per-reporter one (by index)."""
    domain = domain.lower()

    def where(table: Any) -> list[Any]:
        return [table.c.domain == domain, table.c.day >= since, table.c.day <= until]

    f = coarse.failure_days(connection, where)
    query = (select(f.c.result_type, f.c.receiving_mx_hostname, f.c.policy_type,
                    func.sum(f.c.sessions), func.sum(f.c.counted_sessions), func.min(f.c.day),
                    func.max(f.c.day))
             .group_by(f.c.result_type, f.c.receiving_mx_hostname, f.c.policy_type))
    merged: dict[tuple[str, str], FailureGroup] = {}
    biggest: dict[tuple[str, str], int] = {}  # the largest per-policy figure, if none counted
    for result, mx, kind, sessions, counted, first, last in connection.execute(query):
        key = (result, mx or "")
        group = merged.get(key)
        if group is None:
            group = merged[key] = FailureGroup(result_type=result, mx_host=mx or "",
                                               reporters=[], policy_types=[], sessions=0,
                                               first_day=first, last_day=last)
        group.policy_types = sorted({*group.policy_types, kind})
        group.sessions += int(counted)
        biggest[key] = max(biggest.get(key, 0), int(sessions))
        group.first_day, group.last_day = min(group.first_day, first), max(group.last_day, last)
    for key, group in merged.items():
        if group.sessions == 0:
            group.sessions = biggest[key]
    groups = sorted(merged.values(), key=lambda g: (-g.sessions, g.result_type, g.mx_host))
    for group in groups[:REPORTER_GROUPS]:
        def one(table: Any, group: FailureGroup = group) -> list[Any]:
            return [table.c.result_type == group.result_type,
                    table.c.receiving_mx_hostname == group.mx_host]

        d = coarse.failure_reporters(connection, where, one)
        group.reporters = list(connection.execute(
            select(d.c.organization_name).distinct().order_by(d.c.organization_name)).scalars())
    return groups


def domain_facts(connection: Connection, domain: str, since: dt.date,
                 until: dt.date) -> DomainFacts:
    """Every policy and failure row of the reports about `domain` whose day is in the window.

    Each row is unpacked into names, in the order its query selects them: tens of thousands of
    rows, where the other ways by name cost (SQLAlchemy 2.1, measured): a Row's attributes
    0.8 µs each, `.mappings()` 60 % more than unpacking, a NamedTuple per row 70 % more."""
    r, p, d = t.reports, t.policies, t.failure_details
    domain = domain.lower()
    window = and_(r.c.day >= since, r.c.day <= until, p.c.policy_domain == domain)
    policies = [
        PolicyDay(report_key=key, reporter=reporter, day=day, policy_type=kind, mode=mode or "",
                  successful=int(successful), failed=int(failed), counted=bool(counted),
                  mx_patterns=_mx_patterns(kind, strings, hosts), policy_idx=int(idx),
                  authenticated=bool(authenticated), channel=channel, peer=peer,
                  received=utc(stored_at).date())
        for (key, reporter, day, kind, mode, successful, failed, counted, strings, hosts, idx,
             authenticated, channel, peer, stored_at) in connection.execute(
            select(r.c.key, r.c.organization_name, r.c.day, p.c.policy_type, p.c.mode,
                   p.c.successful, p.c.failed, p.c.counted, p.c.policy_strings, p.c.mx_host,
                   p.c.idx, r.c.authenticated, r.c.channel, r.c.peer, r.c.stored_at)
            .join(p, p.c.report == r.c.id).where(window).order_by(r.c.day, r.c.key, p.c.idx))]
    failures = [
        FailureRow(report_key=key, reporter=reporter, day=day, policy_type=kind, mode=mode or "",
                   counted=bool(counted), result_type=result or "", sessions=int(sessions or 0),
                   mx_host=(mx or "").lower().rstrip("."), receiving_ip=receiving_ip or "",
                   sending_ip=sending_ip or "", reason_code=code or "",
                   helo=(helo or "").lower().rstrip("."), policy_idx=int(idx))
        for (key, reporter, day, kind, mode, counted, result, sessions, mx, receiving_ip,
             sending_ip, code, helo, idx) in connection.execute(
            select(r.c.key, r.c.organization_name, r.c.day, p.c.policy_type, p.c.mode,
                   p.c.counted, d.c.result_type, d.c.failed_session_count,
                   d.c.receiving_mx_hostname, d.c.receiving_ip, d.c.sending_mta_ip,
                   d.c.failure_reason_code, d.c.receiving_mx_helo, p.c.idx)
            .join(p, p.c.report == r.c.id)
            .join(d, and_(d.c.report == p.c.report, d.c.policy_idx == p.c.idx))
            .where(window).order_by(r.c.day, r.c.key, p.c.idx, d.c.idx))]
    return DomainFacts(domain=domain, since=since, until=until, policies=policies,
                       failures=failures)


def domains(connection: Connection, since: dt.date, until: dt.date) -> list[str]:
    def where(table: Any) -> list[Any]:
        return [table.c.day >= since, table.c.day <= until, table.c.domain != ""]

    d = coarse.domain_days(connection, where)
    query = select(d.c.domain).distinct().order_by(d.c.domain)
    return list(connection.execute(query).scalars())


def all_domains(connection: Connection) -> list[str]:
    d = coarse.domain_days(connection, lambda table: [table.c.domain != ""])
    return list(connection.execute(select(d.c.domain).distinct().order_by(d.c.domain))
                .scalars())


@functools.lru_cache(maxsize=1024)  # a domain's reports mostly quote the same few policies
def _mx_patterns(policy_type: str, strings: str | None, mx_host: str | None) -> tuple[str, ...]:
    """An sts policy's mx patterns: its quoted mx lines, else the report's mx-host list."""
    if policy_type != _STS:
        return ()
    lines = _json(strings)
    if isinstance(lines, list) and lines:
        patterns = parse_sts_lines(tuple(str(x) for x in lines)).mx_patterns
        if patterns:
            return patterns
    hosts = _json(mx_host)
    return tuple(str(h) for h in hosts) if isinstance(hosts, list) else ()
