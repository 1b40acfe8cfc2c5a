"""Removing stored reports, raw inputs and live checks, in short transactions, with the
roll-ups recounted in the same transaction (app/retention.py decides what goes, and when).

A report is removed policy by policy: the policies (and their failure rows) of the domains
whose time is up go; a report none of whose policies is left goes with its repeats, and one
with policies left keeps them, its counted sessions summed again. A raw input that carried a
removed report (or a copy of one) goes with its arrivals once nothing refers to it, and
otherwise loses its bytes, so that reading it again cannot bring the removed report back.

The roll-ups of every (domain, day) pair touched are recounted from the report rows left, by
the writer's own rule (rows.Rollup), then the coarse ones rebuilt (rollups.rebuild). On
PostgreSQL the pair's per-reporter rows are locked first, in the writers' order (sorted by
key), so that a report stored meanwhile for that pair is either counted in the recount or
adds to it afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import and_, delete, false, func, or_, select, text, tuple_, update
from sqlalchemy.engine import Connection

from tlsscope.store import junk, rollups
from tlsscope.store import tables as t
from tlsscope.store.rows import ReportRows, Rollup
from tlsscope.store.write import mark_stale

Pair = tuple[str, dt.date]
PolicyKey = tuple[int, int]  # (report id, policy idx)
_PAGE = 500  # ids per IN (...)


class Removed(NamedTuple):
    """What one chunk removed (or, dry, would remove)."""

    reports: int = 0
    policies: int = 0
    inputs_deleted: int = 0
    inputs_emptied: int = 0
    checks: int = 0
    pairs: int = 0


class Candidate(NamedTuple):
    """One stored policy: whose domain it is, and the day its report covers."""

    report: int
    idx: int
    domain: str
    day: dt.date
    organisation: int | None  # the domain's owner, None: nobody


class OwnerLimits(NamedTuple):
    """An organisation's own limits (None: the installation's setting)."""

    id: int
    name: str
    keep_inputs_days: int | None
    keep_reports_days: int | None
    keep_checks_days: int | None
    truncate_ips: bool | None


def owner_limits(connection: Connection) -> list[OwnerLimits]:
    o = t.organisations
    return [OwnerLimits(*row) for row in connection.execute(
        select(o.c.id, o.c.name, o.c.keep_inputs_days, o.c.keep_reports_days,
               o.c.keep_checks_days, o.c.truncate_ips).order_by(o.c.name))]


def set_limits(connection: Connection, organisation: int, values: dict[str, Any]) -> None:
    """Set an organisation's own limits (a value None: back to the installation's)."""
    allowed = {"keep_inputs_days", "keep_reports_days", "keep_checks_days", "truncate_ips"}
    assert set(values) <= allowed, values
    if values:
        connection.execute(update(t.organisations).where(t.organisations.c.id == organisation)
                           .values(**values))


def owners(connection: Connection) -> dict[str, int]:
    """domain → its organisation, for the domains somebody owns."""
    d = t.domains
    return {name: org for name, org in connection.execute(
        select(d.c.name, d.c.organisation).where(d.c.organisation.is_not(None)))}


# Choosing ------------------------------------------------------------------------------------

def report_page(connection: Connection, before: dt.date, after: tuple[dt.date, int] | None,
                limit: int) -> list[Candidate]:
    """The policies of up to `limit` reports covering a day before `before`, in (day, id)
    order after the cursor `after`: the purge's candidates, a page at a time."""
    r = t.reports
    query = select(r.c.id, r.c.day).where(r.c.day < before)
    if after is not None:
        query = query.where(or_(r.c.day > after[0], and_(r.c.day == after[0], r.c.id > after[1])))
    ids = [row[0] for row in connection.execute(query.order_by(r.c.day, r.c.id).limit(limit))]
    return _policies_of(connection, ids)


def organisation_page(connection: Connection, organisation: int, after: int,
                      limit: int) -> list[Candidate]:
    """The policies of up to `limit` reports (ids above `after`, in order) that cover one of
    the organisation's domains."""
    p, d = t.policies, t.domains
    ids = [row[0] for row in connection.execute(
        select(p.c.report).join(d, d.c.name == p.c.policy_domain)
        .where(d.c.organisation == organisation, p.c.report > after)
        .group_by(p.c.report).order_by(p.c.report).limit(limit))]
    return _policies_of(connection, ids)


def _policies_of(connection: Connection, ids: list[int]) -> list[Candidate]:
    if not ids:
        return []
    p, r, d = t.policies, t.reports, t.domains
    query = (select(p.c.report, p.c.idx, p.c.policy_domain, r.c.day, d.c.organisation)
             .join(r, r.c.id == p.c.report)
             .outerjoin(d, d.c.name == p.c.policy_domain)
             .where(p.c.report.in_(ids)).order_by(p.c.report, p.c.idx))
    return [Candidate(*row) for row in connection.execute(query)]


def input_page(connection: Connection, before: dt.datetime, after: str,
               limit: int) -> list[tuple[str, dt.datetime]]:
    """Up to `limit` inputs (sha256 above `after`, in order) that arrived before `before` and
    still hold bytes or are no longer referred to by any report: (sha256, received_at)."""
    i, r, rr = t.inputs, t.reports, t.report_repeats
    unreferenced = and_(~select(r.c.id).where(r.c.input_sha256 == i.c.sha256).exists(),
                        ~select(rr.c.id).where(rr.c.input_sha256 == i.c.sha256).exists())
    query = (select(i.c.sha256, i.c.received_at)
             .where(i.c.sha256 > after, i.c.received_at < before,
                    or_(i.c.codec != junk.DROPPED, unreferenced))
             .order_by(i.c.sha256).limit(limit))
    return [(row[0], row[1]) for row in connection.execute(query)]


def input_domains(connection: Connection, digests: Sequence[str]) -> dict[str, set[str]]:
    """sha256 → the policy domains of the reports it carries (or carried a copy of)."""
    p, r, rr = t.policies, t.reports, t.report_repeats
    out: dict[str, set[str]] = {digest: set() for digest in digests}
    for start in range(0, len(digests), _PAGE):
        page = list(digests[start:start + _PAGE])
        own = (select(r.c.input_sha256, p.c.policy_domain).join(p, p.c.report == r.c.id)
               .where(r.c.input_sha256.in_(page)))
        copies = (select(rr.c.input_sha256, p.c.policy_domain).join(p, p.c.report == rr.c.report)
                  .where(rr.c.input_sha256.in_(page)))
        for query in (own, copies):
            for digest, domain in connection.execute(query.distinct()):
                out[digest].add(domain)
    return out


def check_page(connection: Connection, before: dt.datetime, domains: Sequence[str] | None,
               after: int, limit: int) -> list[tuple[int, str, dt.datetime]]:
    """Up to `limit` live checks (ids above `after`, in order) made before `before`, of these
    domains (None: any): (id, domain, checked_at)."""
    c = t.checks
    query = select(c.c.id, c.c.domain, c.c.checked_at).where(c.c.id > after)
    query = query.where(c.c.checked_at < before)
    if domains is not None:
        query = query.where(c.c.domain.in_(list(domains)) if domains else false())
    return [(row[0], row[1], row[2]) for row in connection.execute(
        query.order_by(c.c.id).limit(limit))]


# Removing ------------------------------------------------------------------------------------

def remove_policies(connection: Connection, doomed: Sequence[PolicyKey],
                    dry: bool = False) -> Removed:
    """Remove these policies with their failure rows, the reports left without any, their
    inputs as the module says; recount the roll-ups of the pairs they touched."""
    if not doomed:
        return Removed()
    wanted = set(doomed)
    ids = sorted({report for report, _ in wanted})
    p, r = t.policies, t.reports
    rows = list(connection.execute(
        select(p.c.report, p.c.idx, p.c.policy_domain, p.c.counted, p.c.successful,
               p.c.failed, r.c.day, r.c.input_sha256)
        .join(r, r.c.id == p.c.report).where(p.c.report.in_(ids))))
    hit = [row for row in rows if (row[0], row[1]) in wanted]
    pairs = sorted({(row[2], row[6]) for row in hit})
    gone = {row[0] for row in rows} - {row[0] for row in rows if (row[0], row[1]) not in wanted}
    keys = sorted((row[0], row[1]) for row in hit)
    if dry:
        return Removed(reports=len(gone), policies=len(keys), pairs=len(pairs))
    _lock(connection, pairs)
    for start in range(0, len(keys), _PAGE):
        page = keys[start:start + _PAGE]
        d = t.failure_details
        connection.execute(delete(d).where(tuple_(d.c.report, d.c.policy_idx).in_(page)))
        connection.execute(delete(p).where(tuple_(p.c.report, p.c.idx).in_(page)))
    touched = {row[7] for row in hit} | _drop_reports(connection, sorted(gone))
    _resum(connection, [row for row in rows if row[0] not in gone
                        and (row[0], row[1]) not in wanted])
    deleted, emptied = settle_inputs(connection, sorted(touched))
    recount(connection, pairs)
    mark_stale(connection, sorted({domain for domain, _ in pairs} - {""}))
    return Removed(reports=len(gone), policies=len(keys), inputs_deleted=deleted,
                   inputs_emptied=emptied, pairs=len(pairs))


def _drop_reports(connection: Connection, ids: list[int]) -> set[str]:
    """Delete reports (their policies gone already) with their repeats; the inputs of those
    repeats (which may now be unreferred to)."""
    rr = t.report_repeats
    inputs: set[str] = set()
    for start in range(0, len(ids), _PAGE):
        page = ids[start:start + _PAGE]
        inputs |= set(connection.execute(
            select(rr.c.input_sha256).where(rr.c.report.in_(page))).scalars())
        connection.execute(delete(rr).where(rr.c.report.in_(page)))
        connection.execute(delete(t.reports).where(t.reports.c.id.in_(page)))
    return inputs


def _resum(connection: Connection, kept: list[Any]) -> None:
    """A report that keeps some of its policies counts the sessions of those (as the writer
    sums them: the counted policies)."""
    sums: dict[int, list[int]] = {}
    for row in kept:
        both = sums.setdefault(row[0], [0, 0])
        if row[3]:
            both[0] += row[4]
            both[1] += row[5]
    r = t.reports
    for report, (ok, failed) in sorted(sums.items()):
        connection.execute(update(r).where(r.c.id == report).values(successful=ok, failed=failed))


def settle_inputs(connection: Connection, digests: Sequence[str],
                  dry: bool = False) -> tuple[int, int]:
    """Inputs nothing refers to go with their arrivals; the others lose their bytes.
    Returns (deleted, emptied)."""
    i, r, rr, a = t.inputs, t.reports, t.report_repeats, t.arrivals
    deleted = emptied = 0
    for start in range(0, len(digests), _PAGE):
        page = list(digests[start:start + _PAGE])
        referred = set(connection.execute(
            select(r.c.input_sha256).where(r.c.input_sha256.in_(page))).scalars())
        referred |= set(connection.execute(
            select(rr.c.input_sha256).where(rr.c.input_sha256.in_(page))).scalars())
        free = sorted(set(page) - referred)
        keep = sorted(referred)
        if keep:
            still = set(connection.execute(select(i.c.sha256).where(
                i.c.sha256.in_(keep), i.c.codec != junk.DROPPED)).scalars())
            emptied += len(still)
            if still and not dry:
                connection.execute(update(i).where(i.c.sha256.in_(sorted(still)))
                                   .values(raw=b"", raw_size=0, codec=junk.DROPPED))
        if free:
            deleted += len(free)
            if not dry:
                connection.execute(delete(a).where(a.c.input_sha256.in_(free)))
                connection.execute(delete(i).where(i.c.sha256.in_(free)))
    return deleted, emptied


def remove_checks(connection: Connection, ids: Sequence[int], domains: Iterable[str]) -> int:
    c = t.checks
    for start in range(0, len(ids), _PAGE):
        connection.execute(delete(c).where(c.c.id.in_(list(ids[start:start + _PAGE]))))
    mark_stale(connection, sorted(set(domains) - {""}))  # their live evidence changed
    return len(ids)


# Recounting ----------------------------------------------------------------------------------

def _where_pairs(table: Any, pairs: Sequence[Pair], day: str = "day") -> Any:
    return tuple_(table.c.domain, table.c[day]).in_(list(pairs))


def _lock(connection: Connection, pairs: list[Pair]) -> None:
    """PostgreSQL: lock the pairs' per-reporter roll-up rows, in key order (the writers'
    order); a writer adding to one of them waits for this transaction."""
    if connection.dialect.name != "postgresql" or not pairs:
        return
    for table in (t.daily_totals, t.daily_failures):
        keys = [c for c in table.primary_key.columns]
        connection.execute(select(*keys).where(_where_pairs(table, pairs))
                           .order_by(*keys).with_for_update())


class _Stored:
    """A stored report's rows, in the shape rows.Rollup adds up (ReportRows')."""

    def __init__(self, day: dt.date, organization: str) -> None:
        self.report: dict[str, Any] = {"day": day, "organization_name": organization}
        self.policies: list[dict[str, Any]] = []
        self.details: list[dict[str, Any]] = []


def recount(connection: Connection, pairs: Sequence[Pair]) -> None:
    """Set the roll-ups of these (domain, day) pairs to what the report rows left add up to
    (the per-reporter ones by rows.Rollup, the writer's rule; then the coarse ones)."""
    pairs = sorted(set(pairs))
    for start in range(0, len(pairs), _PAGE):
        page = pairs[start:start + _PAGE]
        rollup = _recounted(connection, page)
        for table in (t.daily_totals, t.daily_failures):
            connection.execute(delete(table).where(_where_pairs(table, page)))
        _insert(connection, t.daily_totals, rollup.totals_rows())
        _insert(connection, t.daily_failures, rollup.failures_rows())
        _rebuild_coarse(connection, [pair for pair in page if pair[0]])


def _recounted(connection: Connection, pairs: list[Pair]) -> Rollup:
    p, r, d = t.policies, t.reports, t.failure_details
    in_pairs = tuple_(p.c.policy_domain, r.c.day).in_(pairs)
    stored: dict[int, _Stored] = {}
    for row in connection.execute(
            select(p.c.report, p.c.idx, p.c.policy_domain, p.c.policy_type, p.c.mode,
                   p.c.successful, p.c.failed, p.c.counted, r.c.day, r.c.organization_name)
            .join(r, r.c.id == p.c.report).where(in_pairs).order_by(p.c.report, p.c.idx)):
        one = stored.setdefault(row[0], _Stored(row[8], row[9]))
        one.policies.append({"idx": row[1], "policy_domain": row[2], "policy_type": row[3],
                             "mode": row[4], "successful": row[5], "failed": row[6],
                             "counted": row[7]})
    for detail in connection.execute(
            select(d.c.report, d.c.policy_idx, d.c.result_type, d.c.failed_session_count,
                   d.c.receiving_mx_hostname, d.c.receiving_ip)
            .join(p, and_(p.c.report == d.c.report, p.c.idx == d.c.policy_idx))
            .join(r, r.c.id == p.c.report).where(in_pairs)):
        stored[detail[0]].details.append({
            "policy_idx": detail[1], "result_type": detail[2],
            "failed_session_count": detail[3], "receiving_mx_hostname": detail[4],
            "receiving_ip": detail[5]})
    rollup = Rollup()
    for one in stored.values():
        rollup.add(cast(ReportRows, one))
    return rollup


def _insert(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _PAGE):
        connection.execute(table.insert(), rows[start:start + _PAGE])


def _rebuild_coarse(connection: Connection, pairs: list[Pair]) -> None:
    """The coarse roll-ups of these pairs, from the per-reporter ones just recounted: their
    rows deleted (a rebuild only sets, and counts may have shrunk), then rebuilt."""
    if not pairs:
        return
    for table in (t.domain_days, t.failure_days, t.failure_reporters):
        connection.execute(delete(table).where(_where_pairs(table, pairs)))
    w = t.reporter_weeks
    for domain, week in sorted({(domain, rollups.monday(day)) for domain, day in pairs}):
        if connection.dialect.name == "postgresql":  # as rollups._reporter_weeks takes it
            key = f"tlsscope.reporter_weeks|{domain}|{week.isoformat()}"
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                               {"k": key})
        connection.execute(delete(w).where(w.c.domain == domain, w.c.week == week))
    rollups.mark(connection, pairs)
    rollups.rebuild(connection, pairs)


def leftovers(connection: Connection, domains: Sequence[str]) -> None:
    """Every remaining derived row of these domains (an organisation's, once its reports are
    gone): roll-ups, reporters, marks, findings, the re-check queue, pending alert events."""
    domains = sorted(domains)
    f, fe = t.findings, t.finding_events
    for start in range(0, len(domains), _PAGE):
        page = domains[start:start + _PAGE]
        ids = select(f.c.id).where(f.c.domain.in_(page)).scalar_subquery()
        connection.execute(delete(fe).where(fe.c.finding.in_(ids)))
        for table, column in ((f, "domain"), (t.alert_events, "domain"), (t.alerts, "domain"),
                              (t.stale_domains, "domain"), (t.rechecks, "domain"),
                              (t.domain_reporters, "domain"), (t.rollup_dirty, "domain"),
                              (t.daily_totals, "domain"), (t.daily_failures, "domain"),
                              (t.domain_days, "domain"), (t.failure_days, "domain"),
                              (t.failure_reporters, "domain"), (t.reporter_weeks, "domain"),
                              (t.checks, "domain")):
            connection.execute(delete(table).where(table.c[column].in_(page)))


def count_reports(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(t.reports)).scalar_one())


# The purges' record --------------------------------------------------------------------------

def start_run(connection: Connection, now: dt.datetime, holder: str) -> int:
    run = connection.execute(t.retention_runs.insert().values(
        started_at=now, holder=holder[:200]).returning(t.retention_runs.c.id)).scalar_one()
    return int(run)


def finish_run(connection: Connection, run: int, finished: dt.datetime | None,
               counts: str) -> None:
    rr = t.retention_runs
    connection.execute(update(rr).where(rr.c.id == run).values(finished_at=finished,
                                                               counts=counts))


def last_runs(connection: Connection) -> tuple[dt.datetime | None, dt.datetime | None]:
    """When the latest finished purge finished, and when the latest purge started."""
    rr = t.retention_runs
    finished = connection.execute(select(func.max(rr.c.finished_at))).scalar()
    started = connection.execute(select(func.max(rr.c.started_at))).scalar()
    return finished, started


def truncation_choices(connection: Connection) -> dict[str, bool]:
    """domain → whether its sending IPs are truncated, for the domains whose organisation
    chose (the others follow truncate_sending_ips)."""
    d, o = t.domains, t.organisations
    return {name: bool(choice) for name, choice in connection.execute(
        select(d.c.name, o.c.truncate_ips).join(o, o.c.id == d.c.organisation)
        .where(o.c.truncate_ips.is_not(None)))}
