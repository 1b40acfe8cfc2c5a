"""Retention: how long reports, raw inputs and live checks are kept, per organisation, and
the purge that removes what is older (docs/retention.md).

The limits: an organisation's own (`tlsscope orgs retention`, columns of its row), else the
installation's setting (keep_reports_days, keep_inputs_days, keep_checks_days); a domain
nobody owns follows the installation's. 0 days: kept for ever.
- reports: by the UTC day a report covers, policy by policy (a report about the domains of
  two organisations loses each one's policies when that one's limit passes, and goes once
  none is left); the roll-ups of the (domain, day) pairs are recounted in the same
  transaction (store/retention_rows.py);
- raw inputs: by when they arrived; an input is kept as long as the longest limit of the
  domains its reports cover (junk follows the installation's). Past it, an input still
  carrying a stored report loses its bytes; any other goes with its arrivals;
- live checks: by when they were made.

`purge` removes in chunks of one short transaction each (never one huge one), asking
`held()` before each, so a node that loses its lease stops within one chunk. `Purger.run`
is serve's `retention` job: once a day, under the lease "retention".
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ParamSpec, TypeVar

import msgspec
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from tlsscope.app import audit
from tlsscope.app.lease import Lease, node_name
from tlsscope.settings import Settings
from tlsscope.store import Store, retention_rows
from tlsscope.store.retention_rows import OwnerLimits, Removed

log = logging.getLogger("tlsscope.retention")

Clock = Callable[[], dt.datetime]
P = ParamSpec("P")
R = TypeVar("R")

CHUNK = 200  # reports (inputs, checks) per transaction
EVERY = dt.timedelta(days=1)
RETRY_FAILED = dt.timedelta(hours=1)  # a purge whose node died is tried again after it
POLL_SECONDS = 60.0
KINDS = ("inputs", "reports", "checks")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


now = _utcnow


def _utc(value: dt.datetime) -> dt.datetime:
    """A stored time (SQLite gives it back without its zone, which is UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


class PurgeResult(msgspec.Struct, kw_only=True):
    """What a purge removed (a dry run: what it would remove, before the inputs and checks
    that removing the reports would free)."""

    reports: int = 0  # reports gone whole
    policies: int = 0  # policies gone (with their failure rows)
    pairs: int = 0  # (domain, day) pairs whose roll-ups were recounted
    inputs_deleted: int = 0
    inputs_emptied: int = 0  # kept (a report still needs them) but without their bytes
    checks: int = 0
    complete: bool = True  # False: stopped early (the lease lost, or asked to stop)
    dry_run: bool = False
    seconds: float = 0.0

    def add(self, removed: Removed) -> None:
        self.reports += removed.reports
        self.policies += removed.policies
        self.pairs += removed.pairs
        self.inputs_deleted += removed.inputs_deleted
        self.inputs_emptied += removed.inputs_emptied
        self.checks += removed.checks


class Limits:
    """The days each kind of data is kept, per organisation (0: for ever)."""

    def __init__(self, settings: Settings, owners: Sequence[OwnerLimits],
                 owner_of: dict[str, int]) -> None:
        self.default = {"inputs": settings.keep_inputs_days,
                        "reports": settings.keep_reports_days,
                        "checks": settings.keep_checks_days}
        self.own = {o.id: {"inputs": o.keep_inputs_days, "reports": o.keep_reports_days,
                           "checks": o.keep_checks_days} for o in owners}
        self.owner_of = owner_of

    @classmethod
    def read(cls, store: Store, settings: Settings) -> Limits:
        return cls(settings, store.read(retention_rows.owner_limits),
                   store.read(retention_rows.owners))

    def days(self, kind: str, organisation: int | None) -> int:
        own = self.own.get(organisation, {}).get(kind) if organisation is not None else None
        return self.default[kind] if own is None else own

    def of_domain(self, kind: str, domain: str) -> int:
        return self.days(kind, self.owner_of.get(domain))

    def of_domains(self, kind: str, domains: Iterable[str]) -> int:
        """The longest limit of these domains' (0, for ever, is the longest); none: the
        installation's."""
        found = [self.of_domain(kind, d) for d in domains]
        if not found:
            return self.default[kind]
        return 0 if 0 in found else max(found)

    def shortest(self, kind: str) -> int:
        """The shortest limit in force (0: everything is kept for ever)."""
        found = {self.default[kind]} | {days for own in self.own.values()
                                        if (days := own[kind]) is not None}
        return min(found - {0}, default=0)


def retrying(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """A chunk picked as a deadlock victim (or meeting a busy SQLite) is tried again."""
    for attempt in range(5):
        try:
            return fn(*args, **kwargs)
        except DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            # 23503: a repeat of a report being removed was recorded meanwhile (its key)
            again = (code in ("40P01", "40001", "23503")
                     or "database is locked" in str(exc.orig))
            if attempt == 4 or not again:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def purge(store: Store, settings: Settings, now: dt.datetime | None = None, *,
          dry_run: bool = False, held: Callable[[], bool] | None = None,
          stop: threading.Event | None = None, chunk: int = CHUNK) -> PurgeResult:
    """Remove the reports, raw inputs and live checks older than their limits."""
    now = now or _utcnow()
    started = time.monotonic()
    limits = Limits.read(store, settings)
    result = PurgeResult(dry_run=dry_run)

    def go() -> bool:
        if (stop is not None and stop.is_set()) or (held is not None and not held()):
            result.complete = False
        return result.complete

    for step in (_reports, _inputs, _checks):
        if not go():
            break
        step(store, limits, now, result, dry_run, go, chunk)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _reports(store: Store, limits: Limits, now: dt.datetime, result: PurgeResult,
             dry: bool, go: Callable[[], bool], chunk: int) -> None:
    shortest = limits.shortest("reports")
    if not shortest:
        return
    today = now.astimezone(dt.UTC).date()
    before = today - dt.timedelta(days=shortest)
    cursor: tuple[dt.date, int] | None = None
    while go():
        page = store.read(retention_rows.report_page, before, cursor, chunk)
        if not page:
            return
        cursor = max((c.day, c.report) for c in page)
        doomed = [(c.report, c.idx) for c in page
                  if (days := limits.days("reports", c.organisation))
                  and c.day < today - dt.timedelta(days=days)]
        if doomed:
            result.add(retrying(store.write, retention_rows.remove_policies, doomed, dry))


def _inputs(store: Store, limits: Limits, now: dt.datetime, result: PurgeResult,
            dry: bool, go: Callable[[], bool], chunk: int) -> None:
    shortest = limits.shortest("inputs")
    if not shortest:
        return
    cursor = ""
    while go():
        page = store.read(retention_rows.input_page, now - dt.timedelta(days=shortest), cursor,
                          chunk)
        if not page:
            return
        cursor = page[-1][0]
        domains = store.read(retention_rows.input_domains, [digest for digest, _ in page])
        doomed = [digest for digest, at in page
                  if (days := limits.of_domains("inputs", domains[digest]))
                  and _utc(at) < now - dt.timedelta(days=days)]
        if doomed:
            deleted, emptied = retrying(store.write, retention_rows.settle_inputs, doomed, dry)
            result.add(Removed(inputs_deleted=deleted, inputs_emptied=emptied))


def _checks(store: Store, limits: Limits, now: dt.datetime, result: PurgeResult,
            dry: bool, go: Callable[[], bool], chunk: int) -> None:
    shortest = limits.shortest("checks")
    if not shortest:
        return
    cursor = 0
    while go():
        page = store.read(retention_rows.check_page, now - dt.timedelta(days=shortest), None,
                          cursor, chunk)
        if not page:
            return
        cursor = page[-1][0]
        doomed = [(check, domain) for check, domain, at in page
                  if (days := limits.of_domain("checks", domain))
                  and _utc(at) < now - dt.timedelta(days=days)]
        if doomed and not dry:
            retrying(store.write, retention_rows.remove_checks, [c for c, _ in doomed],
                      {d for _, d in doomed})
        result.add(Removed(checks=len(doomed)))


# serve's job ---------------------------------------------------------------------------------

class Purger:
    """serve's `retention` job: `run(stop)` purges once a day, on one node of a fleet (the
    lease "retention"), until `stop` is set; each purge is recorded (retention_runs)."""

    def __init__(self, store: Store, settings: Settings, clock: Clock = _utcnow,
                 lease: Lease | None = None, poll_seconds: float = POLL_SECONDS) -> None:
        self.store, self.settings, self.clock = store, settings, clock
        self.lease = lease or Lease(store, "retention", settings.lease_seconds, clock=clock)
        self.poll_seconds = poll_seconds

    def due(self) -> bool:
        """Whether a purge is due: none finished in the last day, and none started in the
        last hour that never said how it ended (its node died, or it is still running). A
        purge that stopped early or failed says so: the next one may start at once."""
        finished, started = self.store.read(retention_rows.last_runs)
        now = self.clock()
        if started is not None and now - _utc(started) < RETRY_FAILED and (
                finished is None or _utc(finished) < _utc(started)):
            return False
        return finished is None or now - _utc(finished) >= EVERY

    def run_once(self, stop: threading.Event | None = None) -> PurgeResult | None:
        """Purge now if due and this node holds the lease; the result (None: not now)."""
        if not self.lease.held() or not self.due():
            return None
        return run_recorded(self.store, self.settings, self.clock(), holder=self.lease.holder,
                            held=self.lease.held, stop=stop, clock=self.clock)

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: purge when due. A purge that fails (the database away, or any
        error) is logged and tried again at the next poll, then after twice as long each
        time it fails again, up to RETRY_FAILED."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    self.run_once(stop)
                    failures = 0
                except Exception as exc:  # the loop guard: one failed purge is not the job's end
                    failures += 1
                    why = str(getattr(exc, "orig", None) or exc)[:300]
                    log.warning("retention purge failed", exc_info=not isinstance(
                        exc, SQLAlchemyError), extra={"fields": {
                            "why": f"{type(exc).__name__}: {why}", "failures": failures}})
                wait = self.poll_seconds * 2 ** min(max(failures - 1, 0), 16)
                stop.wait(min(wait, max(self.poll_seconds, RETRY_FAILED.total_seconds())))
        finally:
            self.lease.release()


def run_recorded(store: Store, settings: Settings, now: dt.datetime, *, holder: str = "",
                 held: Callable[[], bool] | None = None,
                 stop: threading.Event | None = None, clock: Clock = _utcnow) -> PurgeResult:
    """A purge, recorded in retention_runs (started, then finished with its counts; the
    finish by `clock`, the one the schedule asks). One that fails is recorded as such (not
    finished, its error in its counts) before the error goes on."""
    run = store.write(retention_rows.start_run, now, holder or node_name())
    try:
        result = purge(store, settings, now, held=held, stop=stop)
    except Exception as exc:
        why = f"{type(exc).__name__}: {str(getattr(exc, 'orig', None) or exc)[:300]}"
        failed = {"complete": False, "error": why}
        try:
            store.write(retention_rows.finish_run, run, None, msgspec.json.encode(failed).decode())
        except SQLAlchemyError:  # the database is away: the run stays open (RETRY_FAILED)
            pass
        raise
    counts: dict[str, Any] = msgspec.to_builtins(result)
    store.write(retention_rows.finish_run, run, clock() if result.complete else None,
                msgspec.json.encode(counts).decode())
    log.info("retention purge", extra={"fields": counts})
    removed = any(counts.get(k) for k in ("reports", "policies", "inputs_deleted",
                                           "inputs_emptied", "checks"))
    if removed or audit.current() != audit.SYSTEM:  # a daily purge that removed nothing: no entry
        audit.record(store, audit.Change("retention.purged", "purge", {
            **counts, "node": holder or node_name()}))
    return result


# An organisation's own limits ----------------------------------------------------------------

class OrganisationRetention(msgspec.Struct, kw_only=True):
    """An organisation's limits as in force (own: what it set itself; None: the
    installation's)."""

    organisation: str
    keep_inputs_days: int
    keep_reports_days: int
    keep_checks_days: int
    truncate_sending_ips: bool
    own: dict[str, Any]


def organisations(store: Store, settings: Settings) -> list[OrganisationRetention]:
    out = []
    for o in store.read(retention_rows.owner_limits):
        own = {"keep_inputs_days": o.keep_inputs_days, "keep_reports_days": o.keep_reports_days,
               "keep_checks_days": o.keep_checks_days, "truncate_sending_ips": o.truncate_ips}
        def pick(name: str, default: Any, own: dict[str, Any] = own) -> Any:
            return default if own[name] is None else own[name]

        out.append(OrganisationRetention(
            organisation=o.name,
            keep_inputs_days=pick("keep_inputs_days", settings.keep_inputs_days),
            keep_reports_days=pick("keep_reports_days", settings.keep_reports_days),
            keep_checks_days=pick("keep_checks_days", settings.keep_checks_days),
            truncate_sending_ips=pick("truncate_sending_ips", settings.truncate_sending_ips),
            own=own))
    return out


MAX_DAYS = 36_500


def set_limits(store: Store, organisation: int, values: dict[str, Any]) -> None:
    """Set an organisation's own limits: days (0: for ever; None: the installation's), and
    `truncate_sending_ips` (None: the installation's)."""
    from tlsscope.errors import Invalid

    row: dict[str, Any] = {}
    for name, value in values.items():
        if name == "truncate_sending_ips":
            row["truncate_ips"] = value
        elif name in ("keep_inputs_days", "keep_reports_days", "keep_checks_days"):
            if value is not None and not 0 <= value <= MAX_DAYS:
                raise Invalid(name, f"{name}: 0 (for ever) to {MAX_DAYS} days, not {value}")
            row[name] = value
        else:
            raise Invalid(name, f"no such retention setting {name!r}")
    audit.write(store, lambda name: audit.Change("retention.changed", name, {
        "organisation_id": organisation, **values}), _set_limits, organisation, row)


def _set_limits(connection: Connection, organisation: int, row: dict[str, Any]) -> str:
    """Set the limits; the organisation's name."""
    from tlsscope.store import accounts as account_rows

    retention_rows.set_limits(connection, organisation, row)
    return dict(account_rows.organisations(connection)).get(organisation, "")
