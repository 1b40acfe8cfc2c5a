"""Removing stored reports, raw inputs and live checks, in short transactions, with the
roll-ups kept right in the same transaction (app/retention.py decides what goes, and when).

A report is removed policy by policy: the policies (and their failure rows) of the domains
whose time is up go; a report none of whose policies is left goes with its repeats, and one
with policies left keeps them, its counted sessions summed again, and of its reader's notes,
unknown members and values as sent only those about itself or a policy left. A raw input
that carried a removed report (or a copy of one) goes with its arrivals once nothing refers
to it, and otherwise loses its bytes, so that reading it again cannot bring the removed
report back.

The roll-ups: what the removed policies added (by the writer's own rule, rows.Rollup) is
taken back from the per-reporter rows, `x = x - n`, as a writer adds `x = x + n`: both
commute, so a report stored meanwhile for the same pair (a new reporter's row included) is
counted once whatever the interleaving; a recount from the report rows could not be made so
without a lock every writer takes before its roll-up rows. A row left at zero that no report
adds to goes. The coarse roll-ups of the pairs are rebuilt under their `rollup_dirty` marks
(store/rollups.py). Locks are taken in the writers' order (store/write.py): the removed
policies (so two removals take back once), the roll-up rows in key order, the marks, the
stale marks, and only then the report and input rows.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, cast

import msgspec
from sqlalchemy import and_, bindparam, case, delete, false, func, or_, select, tuple_, update
from sqlalchemy.engine import Connection

from tlsscope.store import junk, rollups
from tlsscope.store import tables as t
from tlsscope.store.rows import ReportRows, Rollup
from tlsscope.store.write import mark_stale

Pair = tuple[str, dt.date]
PolicyKey = tuple[int, int]  # (report id, policy idx)
_PAGE = 500  # ids per IN (...)
_json = msgspec.json.Decoder()


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

class _Policy(NamedTuple):
    report: int
    idx: int
    domain: str
    policy_type: str
    mode: str | None
    successful: int
    failed: int
    counted: bool
    day: dt.date
    organization: str
    input_sha256: str


def remove_policies(connection: Connection, doomed: Sequence[PolicyKey],
                    dry: bool = False) -> Removed:
    """Remove these policies (each with the other policies of its domain in its report: the
    writer counts a report once per domain) with their failure rows, the reports left
    without any, their inputs as the module says; take their increments back from the
    roll-ups."""
    if not doomed:
        return Removed()
    ids = sorted({report for report, _ in doomed})
    rows = _policies_locked(connection, ids, lock=not dry)
    asked = set(doomed)
    wanted = {(row.report, row.domain) for row in rows if (row.report, row.idx) in asked}
    hit = [row for row in rows if (row.report, row.domain) in wanted]
    kept = [row for row in rows if (row.report, row.domain) not in wanted]
    pairs = sorted({(row.domain, row.day) for row in hit})
    gone = sorted({row.report for row in hit} - {row.report for row in kept})
    keys = sorted((row.report, row.idx) for row in hit)
    if dry:
        return Removed(reports=len(gone), policies=len(keys), pairs=len(pairs))
    # Locks in the writers' order (store/write.py): roll-up rows, marks, stale marks; only
    # then the report rows (a writer recording a repeat waits for those holding its locks).
    rollup = _increments(connection, hit)
    totals = _take_back(connection, t.daily_totals, rollup.totals_rows())
    failures = _take_back(connection, t.daily_failures, rollup.failures_rows())
    rollups.mark(connection, pairs)
    mark_stale(connection, sorted({domain for domain, _ in pairs} - {""}))
    for start in range(0, len(keys), _PAGE):
        page = keys[start:start + _PAGE]
        d, p = t.failure_details, t.policies
        connection.execute(delete(d).where(tuple_(d.c.report, d.c.policy_idx).in_(page)))
        connection.execute(delete(p).where(tuple_(p.c.report, p.c.idx).in_(page)))
    touched = {row.input_sha256 for row in hit} | _drop_reports(connection, gone)
    _trim(connection, kept)
    _drop_empty(connection, totals, failures)
    deleted, emptied = settle_inputs(connection, sorted(touched))
    _rebuild_coarse(connection, [pair for pair in pairs if pair[0]])
    return Removed(reports=len(gone), policies=len(keys), inputs_deleted=deleted,
                   inputs_emptied=emptied, pairs=len(pairs))


def _policies_locked(connection: Connection, ids: list[int], lock: bool) -> list[_Policy]:
    """Every policy of these reports, locked (PostgreSQL; in key order) so that another
    removal of the same ones waits and then finds them gone: each is taken back once."""
    p, r = t.policies, t.reports
    out: list[_Policy] = []
    for start in range(0, len(ids), _PAGE):
        query = (select(p.c.report, p.c.idx, p.c.policy_domain, p.c.policy_type, p.c.mode,
                        p.c.successful, p.c.failed, p.c.counted, r.c.day,
                        r.c.organization_name, r.c.input_sha256)
                 .join(r, r.c.id == p.c.report).where(p.c.report.in_(ids[start:start + _PAGE]))
                 .order_by(p.c.report, p.c.idx))
        if lock:
            query = query.with_for_update(of=p)
        out.extend(_Policy(*row) for row in connection.execute(query))
    return out


def _increments(connection: Connection, hit: list[_Policy]) -> Rollup:
    """What these policies added to the roll-ups, by the writer's own rule (rows.Rollup)."""
    stored: dict[int, _Stored] = {}
    for row in hit:
        one = stored.setdefault(row.report, _Stored(row.day, row.organization))
        one.policies.append({"idx": row.idx, "policy_domain": row.domain,
                             "policy_type": row.policy_type, "mode": row.mode,
                             "successful": row.successful, "failed": row.failed,
                             "counted": row.counted})
    d = t.failure_details
    keys = sorted((row.report, row.idx) for row in hit)
    for start in range(0, len(keys), _PAGE):
        for detail in connection.execute(
                select(d.c.report, d.c.policy_idx, d.c.result_type, d.c.failed_session_count,
                       d.c.receiving_mx_hostname, d.c.receiving_ip)
                .where(tuple_(d.c.report, d.c.policy_idx).in_(keys[start:start + _PAGE]))):
            stored[detail[0]].details.append({
                "policy_idx": detail[1], "result_type": detail[2],
                "failed_session_count": detail[3], "receiving_mx_hostname": detail[4],
                "receiving_ip": detail[5]})
    rollup = Rollup()
    for one in stored.values():
        rollup.add(cast(ReportRows, one))
    return rollup


def _take_back(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> list[Any]:
    """Subtract these increments from their roll-up rows, in key order (the writers'); an
    increment is commutative with a writer's, so a report stored meanwhile stays counted.
    Returns the keys."""
    keys = [c.name for c in table.primary_key.columns]
    measures = [c.name for c in table.columns if c.name not in keys]
    rows = sorted(rows, key=operator.itemgetter(*keys))
    if rows:
        statement = update(table).where(*(
            table.c[k] == bindparam(f"k_{k}", type_=table.c[k].type) for k in keys)).values({
                m: case((table.c[m] < bindparam(f"m_{m}"), 0),
                        else_=table.c[m] - bindparam(f"m_{m}")) for m in measures})
        for start in range(0, len(rows), _PAGE):
            connection.execute(statement, [
                {**{f"k_{k}": row[k] for k in keys}, **{f"m_{m}": row[m] for m in measures}}
                for row in rows[start:start + _PAGE]])
    return [tuple(row[k] for k in keys) for row in rows]


def _drop_empty(connection: Connection, totals: list[Any], failures: list[Any]) -> None:
    """Of the roll-up rows taken from, those left at zero that no stored report adds to
    (a report of 0 sessions keeps its row, as the writer makes one)."""
    p, r, d = t.policies, t.reports, t.failure_details
    s, f = t.daily_totals, t.daily_failures
    adds_to_totals = select(p.c.report).join(r, r.c.id == p.c.report).where(
        p.c.policy_domain == s.c.domain, r.c.day == s.c.day, p.c.policy_type == s.c.policy_type,
        func.coalesce(p.c.mode, "") == s.c.mode, r.c.organization_name == s.c.organization_name)
    adds_to_failures = (
        select(d.c.report).join(p, and_(p.c.report == d.c.report, p.c.idx == d.c.policy_idx))
        .join(r, r.c.id == p.c.report).where(
            p.c.policy_domain == f.c.domain, r.c.day == f.c.day,
            r.c.organization_name == f.c.organization_name, p.c.policy_type == f.c.policy_type,
            func.coalesce(d.c.result_type, "") == f.c.result_type,
            func.coalesce(d.c.receiving_mx_hostname, "") == f.c.receiving_mx_hostname,
            func.coalesce(d.c.receiving_ip, "") == f.c.receiving_ip))
    for table, keys, adds in ((s, totals, adds_to_totals), (f, failures, adds_to_failures)):
        key = tuple_(*table.primary_key.columns)
        zero = and_(*(table.c[c.name] == 0 for c in table.columns if not c.primary_key))
        for start in range(0, len(keys), _PAGE):
            connection.execute(delete(table).where(
                key.in_(keys[start:start + _PAGE]), zero, ~adds.exists()))


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


def _trim(connection: Connection, kept: list[_Policy]) -> None:
    """A report that keeps some of its policies counts the sessions of those (as the writer
    sums them: the counted policies), and keeps of the reader's notes (`warnings`), unknown
    members (`extras`) and values as sent (`originals`) only those about itself or about a
    policy left (by their paths, `$.policies[i]...`; the indexes stay those of the rows)."""
    by_report: dict[int, list[_Policy]] = {}
    for row in kept:
        by_report.setdefault(row.report, []).append(row)
    r = t.reports
    ids = sorted(by_report)
    for start in range(0, len(ids), _PAGE):
        found = connection.execute(select(r.c.id, r.c.warnings, r.c.extras, r.c.originals)
                                   .where(r.c.id.in_(ids[start:start + _PAGE])))
        for report, warnings, extras, originals in found.all():
            rows = by_report[report]
            same = {row.idx: row.idx for row in rows}
            fields = only_policies({"warnings": warnings, "extras": extras,
                                    "originals": originals}, same)
            connection.execute(update(r).where(r.c.id == report).values(
                successful=sum(row.successful for row in rows if row.counted),
                failed=sum(row.failed for row in rows if row.counted), **fields))


_POLICY_PATH = re.compile(r"^\$\.policies\[(\d+)\]")


def repath(path: str, policies: Mapping[int, int]) -> str | None:
    """A JSON path of a stored report for the policies kept (`policies`: stored index → the
    index it is given): None when it is about another policy; a path about the report
    itself as it is."""
    found = _POLICY_PATH.match(path)
    if found is None:
        return path
    idx = policies.get(int(found.group(1)))
    return None if idx is None else f"$.policies[{idx}]{path[found.end():]}"


def only_policies(stored: Mapping[str, str | None], policies: Mapping[int, int]
                  ) -> dict[str, Any]:
    """A report row's `warnings`, `extras` and `originals` (stored JSON) with only what is
    about the report itself or about these policies, their paths renumbered (repath)."""
    out: dict[str, Any] = {}
    warnings = _json.decode(stored["warnings"] or "[]")
    out["warnings"] = _encode([{**note, "path": new} for note in warnings
                               if (new := repath(note.get("path", ""), policies)) is not None])
    for name in ("extras", "originals"):
        value = _json.decode(stored[name] or "{}")
        out[name] = _encode({new: item for path, item in value.items()
                             if (new := repath(path, policies)) is not None})
    return out


def _encode(value: Any) -> str:
    return msgspec.json.encode(value).decode()


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
    c, cc = t.checks, t.check_certificates
    for start in range(0, len(ids), _PAGE):
        connection.execute(delete(c).where(c.c.id.in_(list(ids[start:start + _PAGE]))))
    named = sorted(set(domains) - {""})
    for start in range(0, len(named), _PAGE):  # the certificates of a check removed
        connection.execute(delete(cc).where(
            cc.c.domain.in_(named[start:start + _PAGE]),
            ~select(c.c.id).where(c.c.domain == cc.c.domain,
                                  c.c.checked_at == cc.c.checked_at).exists()))
    mark_stale(connection, named)  # their live evidence changed
    return len(ids)


# Roll-ups -------------------------------------------------------------------------------------

def _where_pairs(table: Any, pairs: Sequence[Pair], day: str = "day") -> Any:
    return tuple_(table.c.domain, table.c[day]).in_(list(pairs))


class _Stored:
    """A stored report's rows, in the shape rows.Rollup adds up (ReportRows')."""

    def __init__(self, day: dt.date, organization: str) -> None:
        self.report: dict[str, Any] = {"day": day, "organization_name": organization}
        self.policies: list[dict[str, Any]] = []
        self.details: list[dict[str, Any]] = []


def _rebuild_coarse(connection: Connection, pairs: list[Pair]) -> None:
    """The coarse roll-ups of these pairs, from the per-reporter ones: their rows deleted (a
    rebuild only sets, and counts may have shrunk), then rebuilt (rollups.rebuild, which
    takes the marks away). The pairs were marked before (rollups.mark, in this transaction):
    a pair another rebuilder holds now is not rebuilt here and stays marked, so readers sum
    it from the per-reporter rows until the analyst rebuilds it from a later read."""
    if not pairs:
        return
    for table in (t.domain_days, t.failure_days, t.failure_reporters):
        connection.execute(delete(table).where(_where_pairs(table, pairs)))
    w = t.reporter_weeks
    weeks = sorted({(domain, rollups.monday(day)) for domain, day in pairs})
    rollups.lock_weeks(connection, weeks)  # as a rebuild of them takes them
    for domain, week in weeks:
        connection.execute(delete(w).where(w.c.domain == domain, w.c.week == week))
    rollups.rebuild(connection, pairs)


def leftovers(connection: Connection, domains: Sequence[str]) -> None:
    """What remains derived from these domains once their reports are gone (an
    organisation's): findings with their history, alerts and pending alert events, the
    re-check queue, live checks, and who reported them (domain_reporters) where no report of
    that reporter is left. Roll-ups are not deleted: removing the reports took their
    increments back, and a report stored meanwhile keeps its own (its findings are made
    again: the domains are marked stale)."""
    domains = sorted(domains)
    f, fe, dr = t.findings, t.finding_events, t.domain_reporters
    p, r = t.policies, t.reports
    for start in range(0, len(domains), _PAGE):
        page = domains[start:start + _PAGE]
        ids = select(f.c.id).where(f.c.domain.in_(page)).scalar_subquery()
        connection.execute(delete(fe).where(fe.c.finding.in_(ids)))
        for table in (f, t.alert_events, t.alerts, t.rechecks, t.checks,
                      t.check_certificates):
            connection.execute(delete(table).where(table.c.domain.in_(page)))
        reported = (select(p.c.report).join(r, r.c.id == p.c.report)
                    .where(p.c.policy_domain == dr.c.domain,
                           r.c.organization_name == dr.c.organization_name))
        connection.execute(delete(dr).where(dr.c.domain.in_(page), ~reported.exists()))
        mark_stale(connection, page)


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
    """When the latest finished purge finished, and when the latest purge that never said
    how it ended (still running, or its node died) started: one that stopped early or
    failed recorded its counts."""
    rr = t.retention_runs
    finished = connection.execute(select(func.max(rr.c.finished_at))).scalar()
    started = connection.execute(select(func.max(rr.c.started_at)).where(
        rr.c.finished_at.is_(None), rr.c.counts == "{}")).scalar()
    return finished, started


def truncation_choices(connection: Connection) -> dict[str, bool]:
    """domain → whether its sending IPs are truncated, for the domains whose organisation
    chose (the others follow truncate_sending_ips)."""
    d, o = t.domains, t.organisations
    return {name: bool(choice) for name, choice in connection.execute(
        select(d.c.name, o.c.truncate_ips).join(o, o.c.id == d.c.organisation)
        .where(o.c.truncate_ips.is_not(None)))}
