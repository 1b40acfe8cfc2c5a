"""Alert rows: the rules, the outbox (alerts and the deliveries that carry them), every
attempt, and the digests' opt-outs. tlsscope.alert decides what to write; this only stores.

A delivery is claimed before it is sent: its state becomes `sending`, its attempt count goes
up and it is leased until `lease_until`. Claims take the rows FOR UPDATE SKIP LOCKED on
PostgreSQL (several nodes never claim one delivery together); SQLite's writes are serial
(BEGIN IMMEDIATE). A lease that runs out (the node died mid-attempt) makes the delivery
claimable again: only that attempt in flight can be repeated, with the same alert ids.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.engine import Connection

from tlsscope.store import tables as t
from tlsscope.store.engine import insert_new
from tlsscope.store.queries import utc

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"


class RuleRow(NamedTuple):
    id: int
    organisation: int | None
    organisation_name: str
    channel: str
    target: str
    secret: str
    domains: list[str]
    kinds: list[str]
    events: list[str]
    min_severity: str
    batch: str
    quiet: str
    timezone: str
    quiet_critical: bool
    suppress_days: int
    lang: str
    created_at: dt.datetime
    removed: bool


class NewAlert(NamedTuple):
    key: str
    rule: int
    event: str
    domain: str
    finding: int | None
    problem: str
    severity: str
    data: str  # JSON
    suppressed: bool
    due_at: dt.datetime
    batched: bool  # may share its delivery with other alerts of the rule due then
    created_at: dt.datetime | None = None  # when its change happened (None: now)


class SentAlert(NamedTuple):
    """An alert of the rule about the problem that was not suppressed (it went, or goes)."""

    event: str
    severity: str
    created_at: dt.datetime


class Claimed(NamedTuple):
    delivery: int
    attempt: int  # the number of this attempt (1 for the first)
    rule: RuleRow
    alerts: list[dict[str, Any]]  # each: key, event, domain, finding, severity, data (dict)
    test: bool


class Outcome(NamedTuple):
    delivery: int
    attempt: int
    at: dt.datetime
    seconds: float
    delivered: bool
    status: int | None
    error: str
    next_at: dt.datetime | None  # None with delivered False: failed for good


def alert_data(text: str) -> dict[str, Any]:
    """An alert's stored JSON; written by other hands (an older version, SQL), it may hold
    what msgspec refuses (a lone surrogate's escape): Python's json reads it then."""
    try:
        found = msgspec.json.decode(text)
    except msgspec.DecodeError:
        import json

        try:
            found = json.loads(text)
        except ValueError:
            found = {}
    return found if isinstance(found, dict) else {}


def _rule(row: Any) -> RuleRow:
    return RuleRow(
        id=int(row["id"]), organisation=row["organisation"],
        organisation_name=row["organisation_name"] or "", channel=row["channel"],
        target=row["target"], secret=row["secret"], domains=msgspec.json.decode(row["domains"]),
        kinds=msgspec.json.decode(row["kinds"]), events=msgspec.json.decode(row["events"]),
        min_severity=row["min_severity"], batch=row["batch"], quiet=row["quiet"],
        timezone=row["timezone"], quiet_critical=bool(row["quiet_critical"]),
        suppress_days=int(row["suppress_days"]), lang=row["lang"],
        created_at=utc(row["created_at"]), removed=bool(row["removed"]))


def _rules_query() -> Any:
    r, o = t.alert_rules, t.organisations
    return (select(r, o.c.name.label("organisation_name"))
            .select_from(r.outerjoin(o, o.c.id == r.c.organisation)))


def add_rule(connection: Connection, values: dict[str, Any]) -> int:
    encoded = {key: msgspec.json.encode(value).decode() if key in ("domains", "kinds", "events")
               else value for key, value in values.items()}
    return int(connection.execute(t.alert_rules.insert().values(**encoded)
                                  .returning(t.alert_rules.c.id)).scalar_one())


def rules(connection: Connection, organisation: int | None = None,
          everyone: bool = True) -> list[RuleRow]:
    """The rules not removed: all of them (`everyone`), or one organisation's."""
    r = t.alert_rules
    query = _rules_query().where(r.c.removed == False)  # noqa: E712
    if not everyone:
        query = query.where(r.c.organisation == organisation)
    return [_rule(row) for row in connection.execute(query.order_by(r.c.id)).mappings()]


def rule_ids(connection: Connection, organisation: int | None) -> list[int]:
    """Every rule of an organisation, the removed ones too (their deliveries stay in its
    log)."""
    r = t.alert_rules
    return [int(i) for i in connection.execute(select(r.c.id)
                                                .where(r.c.organisation == organisation))
            .scalars()]


def rule(connection: Connection, rule_id: int) -> RuleRow | None:
    row = connection.execute(_rules_query().where(t.alert_rules.c.id == rule_id)
                             ).mappings().first()
    return None if row is None else _rule(row)


def remove_rule(connection: Connection, rule_id: int) -> None:
    """Removed, not deleted: its alerts and attempts stay in the log; what it had pending is
    not sent."""
    connection.execute(update(t.alert_rules).where(t.alert_rules.c.id == rule_id)
                       .values(removed=True))
    connection.execute(update(t.alert_deliveries)
                       .where(t.alert_deliveries.c.rule == rule_id,
                              t.alert_deliveries.c.state == PENDING)
                       .values(state=FAILED, last_error="the rule was removed"))


def domain_organisation(connection: Connection, domain: str) -> int | None:
    return connection.execute(select(t.domains.c.organisation)
                              .where(t.domains.c.name == domain)).scalar()


def last_sent(connection: Connection, rule_id: int, problem: str) -> SentAlert | None:
    """The rule's latest alert about `problem` that was not suppressed."""
    a = t.alerts
    row = connection.execute(
        select(a.c.event, a.c.severity, a.c.created_at)
        .where(a.c.rule == rule_id, a.c.problem == problem, a.c.suppressed == False)  # noqa: E712
        .order_by(a.c.created_at.desc(), a.c.id.desc()).limit(1)).first()
    return None if row is None else SentAlert(row[0], row[1], utc(row[2]))



def _delivery_for(connection: Connection, alert: NewAlert, now: dt.datetime) -> int:
    d = t.alert_deliveries
    if alert.batched:
        found = connection.execute(
            select(d.c.id).where(d.c.rule == alert.rule, d.c.state == PENDING,
                                 d.c.batched == True, d.c.attempts == 0,  # noqa: E712
                                 d.c.due_at == alert.due_at).limit(1)).scalar()
        if found is not None:
            return int(found)
    return int(connection.execute(d.insert().values(
        rule=alert.rule, state=PENDING, due_at=alert.due_at, next_at=alert.due_at,
        attempts=0, created_at=now, batched=alert.batched).returning(d.c.id)).scalar_one())


def write_alert(connection: Connection, alert: NewAlert, now: dt.datetime) -> bool:
    """Put an alert in the outbox (with a delivery unless it is suppressed): False when an
    alert with its key is there already."""
    values = {"key": alert.key, "rule": alert.rule, "event": alert.event,
              "domain": alert.domain, "finding": alert.finding, "problem": alert.problem,
              "severity": alert.severity, "data": alert.data, "created_at": now,
              "suppressed": alert.suppressed}
    if not insert_new(connection, t.alerts, values, ["key"]):
        return False
    if not alert.suppressed:
        delivery = _delivery_for(connection, alert, now)
        connection.execute(update(t.alerts).where(t.alerts.c.key == alert.key)
                           .values(delivery=delivery))
    return True


def test_delivery(connection: Connection, rule_id: int, key: str, data: str,
                  now: dt.datetime) -> int:
    """A sample alert for the rule, due now (tlsscope alerts test)."""
    d = t.alert_deliveries
    delivery = int(connection.execute(d.insert().values(
        rule=rule_id, state=PENDING, due_at=now, next_at=now, attempts=0, created_at=now,
        test=True).returning(d.c.id)).scalar_one())
    connection.execute(t.alerts.insert().values(
        key=key, rule=rule_id, event="test", domain="", finding=None, problem=f"test:{key}",
        severity="info", data=data, created_at=now, suppressed=False, delivery=delivery))
    return delivery


def claim(connection: Connection, now: dt.datetime, lease: dt.timedelta, limit: int,
          only: int | None = None) -> list[Claimed]:
    """Claim up to `limit` deliveries that are due (or whose lease ran out), oldest first."""
    d = t.alert_deliveries
    due = or_(and_(d.c.state == PENDING, d.c.next_at <= now),
              and_(d.c.state == SENDING, d.c.lease_until < now))
    query = select(d.c.id, d.c.attempts, d.c.rule, d.c.test).where(due)
    if only is not None:
        query = query.where(d.c.id == only)
    rows = connection.execute(query.order_by(d.c.next_at, d.c.id).limit(limit)
                              .with_for_update(skip_locked=True)).all()
    if not rows:
        return []
    ids = [int(row[0]) for row in rows]
    connection.execute(update(d).where(d.c.id.in_(ids)).values(
        state=SENDING, attempts=d.c.attempts + 1, lease_until=now + lease))
    rules_by_id = {r: rule(connection, r) for r in {int(row[2]) for row in rows}}
    a = t.alerts
    carried: dict[int, list[dict[str, Any]]] = {}
    for each in connection.execute(
            select(a.c.delivery, a.c.key, a.c.event, a.c.domain, a.c.finding, a.c.severity,
                   a.c.data, a.c.created_at).where(a.c.delivery.in_(ids))
            .order_by(a.c.id)).mappings():
        carried.setdefault(int(each["delivery"]), []).append({
            "key": each["key"], "event": each["event"], "domain": each["domain"],
            "finding": each["finding"], "severity": each["severity"],
            "created_at": utc(each["created_at"]), "data": alert_data(each["data"])})
    out = []
    for delivery, attempts, rule_id, test in rows:
        found = rules_by_id[int(rule_id)]
        assert found is not None  # a delivery's rule is never deleted
        out.append(Claimed(int(delivery), int(attempts) + 1, found,
                           carried.get(int(delivery), []), bool(test)))
    return out


def record(connection: Connection, outcomes: list[Outcome]) -> None:
    """Keep each attempt, and move its delivery on: delivered, due again, or failed. A
    delivery claimed again meanwhile (its lease ran out) is left to the newer claim."""
    d = t.alert_deliveries
    if outcomes:
        connection.execute(t.alert_attempts.insert(), [
            {"delivery": o.delivery, "at": o.at, "seconds": o.seconds,
             "outcome": "delivered" if o.delivered else "retry" if o.next_at else "failed",
             "status": o.status, "error": o.error[:2000]} for o in outcomes])
    ours = and_(d.c.id == bindparam("b_id"), d.c.attempts == bindparam("b_attempt"),
                d.c.state == SENDING)
    delivered = [o for o in outcomes if o.delivered]
    retried = [o for o in outcomes if not o.delivered and o.next_at is not None]
    failed = [o for o in outcomes if not o.delivered and o.next_at is None]
    if delivered:
        connection.execute(update(d).where(ours).values(
            state=DELIVERED, delivered_at=bindparam("b_at"), lease_until=None, last_error=""),
            [{"b_id": o.delivery, "b_attempt": o.attempt, "b_at": o.at} for o in delivered])
    if retried:
        connection.execute(update(d).where(ours).values(
            state=PENDING, next_at=bindparam("b_next"), lease_until=None,
            last_error=bindparam("b_error")),
            [{"b_id": o.delivery, "b_attempt": o.attempt, "b_next": o.next_at,
              "b_error": o.error[:2000]} for o in retried])
    if failed:
        connection.execute(update(d).where(ours).values(
            state=FAILED, lease_until=None, last_error=bindparam("b_error")),
            [{"b_id": o.delivery, "b_attempt": o.attempt, "b_error": o.error[:2000]}
             for o in failed])


class FindingAt(NamedTuple):
    """A stored finding as an alert reads it, in the transaction of its change."""

    id: int
    domain: str
    fingerprint: str
    status: str
    data: str
    texts: str




def latest_modes(connection: Connection, domains: list[str] | None = None) -> dict[str, str]:
    """Each domain's MTA-STS mode on the newest day its reports gave one ("enforce",
    "testing", "none"): what a finding's severity is weighed under."""
    d = t.domain_days
    query = (select(d.c.domain, d.c.day, d.c.mode)
             .where(d.c.policy_type == "sts", d.c.mode != ""))
    if domains is not None:
        query = query.where(d.c.domain.in_(domains))
    newest: dict[str, tuple[dt.date, str]] = {}
    for domain, day, mode in connection.execute(query):
        if domain not in newest or day > newest[domain][0]:
            newest[domain] = (day, mode)
    return {domain: mode for domain, (_, mode) in newest.items()}


def last_report_days(connection: Connection) -> dict[str, dt.date]:
    """Every domain with reports → the day of its newest report (the coarse roll-up)."""
    d = t.domain_days
    return {row[0]: row[1] for row in connection.execute(
        select(d.c.domain, func.max(d.c.day)).where(d.c.domain != "").group_by(d.c.domain))}




# The events alerts are made of (tlsscope.alert.outbox).

FAN_OUT_LOCK = 0x71_5C_0_9E  # the PostgreSQL advisory lock of the fan-out: one node at a time


def add_event(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(t.alert_events.insert().values(**values))


def take_events(connection: Connection, limit: int) -> list[dict[str, Any]]:
    """The oldest events, for a fan-out that holds the fleet's lock for its transaction
    (PostgreSQL: an advisory lock; SQLite's writes are serial already)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({FAN_OUT_LOCK})")
    e = t.alert_events
    return [dict(row, at=utc(row["at"])) for row in connection.execute(
        select(e).order_by(e.c.id).limit(limit)).mappings()]


def drop_events(connection: Connection, ids: list[int]) -> None:
    e = t.alert_events
    for start in range(0, len(ids), 500):
        connection.execute(e.delete().where(e.c.id.in_(ids[start:start + 500])))



def domain_organisations(connection: Connection, domains: set[str]) -> dict[str, int | None]:
    d = t.domains
    out: dict[str, int | None] = dict.fromkeys(domains)
    names = sorted(domains)
    for start in range(0, len(names), 500):
        for name, organisation in connection.execute(
                select(d.c.name, d.c.organisation).where(d.c.name.in_(names[start:start + 500]))):
            out[name] = organisation
    return out


def findings_by_id(connection: Connection, ids: set[int]) -> dict[int, FindingAt]:
    f = t.findings
    out = {}
    wanted = sorted(ids)
    for start in range(0, len(wanted), 500):
        for row in connection.execute(
                select(f.c.id, f.c.domain, f.c.fingerprint, f.c.status, f.c.data, f.c.texts)
                .where(f.c.id.in_(wanted[start:start + 500]))).mappings():
            out[int(row["id"])] = FindingAt(int(row["id"]), row["domain"], row["fingerprint"],
                                            row["status"], row["data"], row["texts"] or "")
    return out


def checks_by_id(connection: Connection, ids: set[int]) -> dict[int, str]:
    c = t.checks
    return {int(i): data for i, data in connection.execute(
        select(c.c.id, c.c.data).where(c.c.id.in_(sorted(ids))))} if ids else {}


def history(connection: Connection, problems: set[str]) -> dict[tuple[int, str], list[SentAlert]]:
    """Every alert not suppressed about these problems, by (rule, problem), oldest first."""
    a = t.alerts
    out: dict[tuple[int, str], list[SentAlert]] = {}
    wanted = sorted(problems)
    for start in range(0, len(wanted), 500):
        for rule_id, problem, event, severity, at in connection.execute(
                select(a.c.rule, a.c.problem, a.c.event, a.c.severity, a.c.created_at)
                .where(a.c.problem.in_(wanted[start:start + 500]),
                       a.c.suppressed == False)  # noqa: E712
                .order_by(a.c.created_at, a.c.id)):
            out.setdefault((int(rule_id), problem), []).append(SentAlert(event, severity, utc(at)))
    return out


def write_alerts(connection: Connection, alerts: list[NewAlert], now: dt.datetime) -> int:
    """Put alerts in the outbox, with their deliveries (a batched alert joins its rule's open
    batch due at the same time), in a few statements; returns how many."""
    d, a = t.alert_deliveries, t.alerts
    there = _existing_keys(connection, {alert.key for alert in alerts})
    fresh: list[NewAlert] = []
    for alert in alerts:
        if alert.key not in there:
            there.add(alert.key)
            fresh.append(alert)
    alerts = fresh
    if not alerts:
        return 0
    sent = [alert for alert in alerts if not alert.suppressed]
    batches: dict[tuple[int, dt.datetime], int] = {}
    batched = [alert for alert in sent if alert.batched]
    if batched:
        for delivery, rule_id, due in connection.execute(
                select(d.c.id, d.c.rule, d.c.due_at).where(
                    d.c.rule.in_(sorted({x.rule for x in batched})), d.c.state == PENDING,
                    d.c.batched == True, d.c.attempts == 0)):  # noqa: E712
            batches.setdefault((int(rule_id), utc(due)), int(delivery))
    wanted: list[dict[str, Any]] = []
    owners: list[tuple[int, dt.datetime] | int] = []
    for index, alert in enumerate(sent):
        slot = (alert.rule, alert.due_at)
        if alert.batched and (slot in batches or slot in owners):
            continue
        owners.append(slot if alert.batched else -1 - index)
        wanted.append({"rule": alert.rule, "state": PENDING, "due_at": alert.due_at,
                       "next_at": alert.due_at, "attempts": 0, "created_at": now,
                       "batched": alert.batched})
    made = connection.execute(d.insert().returning(d.c.id, sort_by_parameter_order=True),
                              wanted).scalars().all() if wanted else []
    for owner, delivery in zip(owners, made, strict=True):
        if isinstance(owner, tuple):
            batches[owner] = int(delivery)
    single = {-1 - int(owner): int(delivery) for owner, delivery in zip(owners, made,
                                                                           strict=True)
              if isinstance(owner, int)}
    rows = []
    index = 0
    for alert in alerts:  # in their order: the log and the history read them by id
        if alert.suppressed:
            rows.append(_alert_row(alert, now, None))
            continue
        delivery = batches[(alert.rule, alert.due_at)] if alert.batched else single[index]
        rows.append(_alert_row(alert, now, delivery))
        index += 1
    connection.execute(a.insert(), rows)
    return len(rows)


def _existing_keys(connection: Connection, keys: set[str]) -> set[str]:
    """Those of `keys` the outbox holds already: an alert is written once, and no delivery is
    made for one that is not written."""
    wanted, found = sorted(keys), set()
    for start in range(0, len(wanted), 500):
        found |= set(connection.execute(select(t.alerts.c.key).where(
            t.alerts.c.key.in_(wanted[start:start + 500]))).scalars())
    return found


def _alert_row(alert: NewAlert, now: dt.datetime, delivery: int | None) -> dict[str, Any]:
    return {"key": alert.key, "rule": alert.rule, "event": alert.event, "domain": alert.domain,
            "finding": alert.finding, "problem": alert.problem, "severity": alert.severity,
            "data": alert.data, "created_at": alert.created_at or now,
            "suppressed": alert.suppressed, "delivery": delivery}


def any_rule(connection: Connection) -> bool:
    r = t.alert_rules
    return connection.execute(select(r.c.id).where(r.c.removed == False)  # noqa: E712
                              .limit(1)).first() is not None
