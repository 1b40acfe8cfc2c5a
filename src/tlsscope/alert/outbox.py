"""The outbox: what is to be told, kept from the transaction of the change that causes it.

It subscribes to tlsscope.app.events (a stored finding that opened or changed, a live check
done) and writes each change as an event in that very transaction: one insert, so that the
analyst's cycle does not wait on alerting, and nothing that happened goes untold (a change
and its event commit or roll back together). `fan_out` then turns the events into alerts, in
order and in bulk (a few queries for thousands of events): for each rule that covers the
domain it decides the event, writes the alert with the snapshot of what it says (in the
rule's language) and its delivery's due time, or writes it as suppressed. It runs before
every delivery pass (serve's alert thread, `tlsscope alerts deliver`), under a lock that
makes it one node's at a time (alerts_rows.take_events). `silence` and `receiver_down` write
the receivers' alerts directly.

One problem, one alert: the findings of one cause are one finding already (analyze/detectors/
grouping.py), and a rule hears of a problem again only when it escalates, or once it was told
the problem went away: a rule told "fixed" always hears that it is broken again. A problem
that comes and goes is damped on the good news instead: a second "fixed" within the rule's
suppression days (default 7) is kept as suppressed, and the rule stays warned.
    finding.opened      a confirmed finding opened (or opened again) at least at min_severity
    finding.escalated   its severity rose since the rule was told of it
    finding.likely_fixed, finding.resolved   of a finding the rule was told of
    check.warning       a certificate expiring in 14 / 7 / 1 days (or expired), a policy
                        changed under the same id, an MX outside the policy: each once
    receiver.silent     no report for a domain for alerts_silent_days; a mailbox unreachable
Unconfirmed findings (analyze/confirm.py) and those about the reports' own delivery
(`report_loop`) are never alerted on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

import msgspec

from tlsscope.alert import checkwarn, timing
from tlsscope.alert.rules import severity_passes
from tlsscope.analyze.detectors import DomainFinding
from tlsscope.app import events
from tlsscope.app.findings import decoded
from tlsscope.live_check import LiveCheck
from tlsscope.store import Store, alerts_rows, digest_rows
from tlsscope.store.alerts_rows import FindingAt, NewAlert, RuleRow, SentAlert
from tlsscope.store.findings_rows import StoredFinding
from tlsscope.vocab import FindingStatus, Severity, severity_rank

Connection = events.Connection
OPENED, ESCALATED = "finding.opened", "finding.escalated"
LIKELY_FIXED, RESOLVED = "finding.likely_fixed", "finding.resolved"
CHECK_WARNING, SILENT = "check.warning", "receiver.silent"
_OPEN_EVENTS = (OPENED, ESCALATED)
_FIXED_EVENTS = (LIKELY_FIXED, RESOLVED)


def key(salt: str, rule: int, event: str, problem: str, stamp: str) -> str:
    """An alert's stable id: the same change seen by two nodes is one alert. Keyed with the
    installation's own salt: two installations that alert one receiver never share an id
    (their rule ids and domains may be the same), and an id tells nothing of what it hashes."""
    digest = hmac.new(salt.encode(), f"{rule}|{event}|{problem}|{stamp}".encode(),
                      hashlib.sha256).hexdigest()
    return "al_" + digest[:32]


def salt(connection: Connection) -> str:
    """The installation's alert-id salt, made at its first use (every node reads the one
    stored first)."""
    return digest_rows.secret(connection, "alert-ids", secrets.token_hex(16))


def _plain(value: Any) -> Any:
    """`value` with every string valid UTF-8 (a lone surrogate from a report replaced): an
    alert that cannot be encoded would take its change back, for ever."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _encoded(data: dict[str, Any]) -> str:
    try:
        return msgspec.json.encode(data).decode()
    except UnicodeEncodeError:  # a lone surrogate, from a report
        return msgspec.json.encode(_plain(data)).decode()


def _stamp(row: dict[str, Any]) -> str:
    """What makes one event's alerts distinct: its row id with its time and what changed
    (SQLite hands a deleted event's id out again; the time and the change tell them apart)."""
    return f"{row['id']}|{row['at'].isoformat()}|{row['status']}|{row['severity']}"


def covering(rules: list[RuleRow], domain: str, organisation: int | None) -> list[RuleRow]:
    """The rules that hear of `domain`: the installation's, and its organisation's; each
    narrowed by its domains."""
    return [rule for rule in rules
            if (rule.organisation is None or rule.organisation == organisation)
            and (not rule.domains or domain in rule.domains)]


def on_finding_changed(connection: Connection, event: events.FindingChanged) -> None:
    """In the change's transaction: the event, for the fan-out (one insert; none while no
    rule exists)."""
    if not alerts_rows.any_rule(connection):
        return
    change = event.change
    alerts_rows.add_event(connection, {
        "kind": "finding", "domain": change.domain, "finding": change.finding_id,
        "fingerprint": change.fingerprint, "finding_kind": change.kind,
        "status": change.status, "severity": change.severity,
        "before_status": change.before_status, "before_severity": change.before_severity,
        "at": event.at})


def on_check_done(connection: Connection, event: events.CheckDone) -> None:
    if not alerts_rows.any_rule(connection):
        return
    alerts_rows.add_event(connection, {"kind": "check", "domain": event.domain,
                                       "check_id": event.check_id, "at": event.at})


class History:
    """What each rule was told of each problem (not suppressed), as the fan-out goes: the
    stored alerts, then those it writes."""

    def __init__(self, sent: dict[tuple[int, str], list[SentAlert]]) -> None:
        self.sent = sent

    def last(self, rule: int, problem: str) -> SentAlert | None:
        found = self.sent.get((rule, problem))
        return found[-1] if found else None

    def flapping(self, rule: RuleRow, problem: str, at: dt.datetime) -> bool:
        """The rule was told this problem was fixed, within its suppression days, before
        it was told it is broken again: a "fixed" now would be the same news twice."""
        if rule.suppress_days <= 0:
            return False
        told = self.sent.get((rule.id, problem), [])
        opens = [index for index, sent in enumerate(told) if sent.event in _OPEN_EVENTS]
        if not opens:
            return False
        since = at - dt.timedelta(days=rule.suppress_days)
        return any(sent.event in _FIXED_EVENTS and sent.created_at >= since
                   for sent in told[:opens[-1]])

    def told(self, rule: int, problem: str, event: str, severity: str,
             at: dt.datetime) -> None:
        self.sent.setdefault((rule, problem), []).append(SentAlert(event, severity, at))


def finding_event(history: History, rule: RuleRow, problem: str, status: str,
                  severity: str, confirmed: bool, at: dt.datetime) -> tuple[str, bool] | None:
    """What `rule` is to hear of a finding now (event, suppressed), or None."""
    last = history.last(rule.id, problem)
    told_open = last is not None and last.event in _OPEN_EVENTS
    if status == FindingStatus.OPEN:
        if not confirmed or not severity_passes(severity, rule.min_severity):
            return None
        if told_open:
            assert last is not None
            if severity_rank(severity) < severity_rank(last.severity):
                return ESCALATED, False
            return None
        return OPENED, False  # new, or broken again after the rule was told it was fixed
    if status == FindingStatus.LIKELY_FIXED:
        if not told_open:
            return None
        return LIKELY_FIXED, history.flapping(rule, problem, at)
    if status == FindingStatus.RESOLVED:
        if last is None or last.event not in (*_OPEN_EVENTS, LIKELY_FIXED):
            return None
        return RESOLVED, history.flapping(rule, problem, at)
    return None


def snapshot(finding: DomainFinding, finding_id: int, mode: str,
             before_severity: str) -> dict[str, Any]:
    """What an alert says of a finding, as it is at the change."""
    return {
        "finding_id": finding_id, "domain": finding.domain, "kind": finding.kind,
        "severity": finding.severity, "before_severity": before_severity,
        "status": finding.status, "title": finding.title,
        "explanation": finding.explanation, "fix": list(finding.fix),
        "mx_host": finding.mx_host, "receiving_ip": finding.receiving_ip,
        "result_type": finding.result_type, "first_seen": finding.first_seen.isoformat(),
        "last_seen": finding.last_seen.isoformat(), "sessions": finding.sessions,
        "reporters": list(finding.reporters), "mode": mode, "heuristic": finding.heuristic,
        "also_seen_by": list(finding.also_seen_by)}


def _new(salt: str, rule: RuleRow, event: str, domain: str, finding: int | None, problem: str,
         severity: str, data: dict[str, Any], stamp: str, suppressed: bool,
         at: dt.datetime) -> NewAlert:
    critical = severity == Severity.CRITICAL and rule.quiet_critical
    due = timing.due(at, rule.batch, rule.quiet, rule.timezone, critical)
    return NewAlert(
        key=key(salt, rule.id, event, problem, stamp), rule=rule.id, event=event, domain=domain,
        finding=finding, problem=problem, severity=severity,
        data=_encoded({**data, "event": event}),
        suppressed=suppressed, due_at=due, batched=rule.channel != "generic" and due > at,
        created_at=at)


class _Batch:
    """One fan-out's reads, each made once for all its events."""

    def __init__(self, connection: Connection, rows: list[dict[str, Any]],
                 rules: list[RuleRow]) -> None:
        domains = {row["domain"] for row in rows}
        self.rules = rules
        self.salt = salt(connection)
        self.organisations = alerts_rows.domain_organisations(connection, domains)
        self.findings = alerts_rows.findings_by_id(
            connection, {row["finding"] for row in rows if row["kind"] == "finding"})
        checks = alerts_rows.checks_by_id(
            connection, {row["check_id"] for row in rows if row["kind"] == "check"})
        self.modes = alerts_rows.latest_modes(connection, sorted(domains))
        self.checks: dict[int, tuple[LiveCheck, list[checkwarn.CheckWarning]]] = {}
        problems = {f"finding:{row['domain']}:{row['fingerprint']}" for row in rows
                    if row["kind"] == "finding"}
        for check_id, data in checks.items():
            check = msgspec.json.decode(data, type=LiveCheck)
            found = checkwarn.warnings(check, self.modes.get(check.domain, "")
                                       or check.policy_mode)
            self.checks[check_id] = (check, found)
            problems |= {warning.problem for warning in found}
        self.history = History(alerts_rows.history(connection, problems))
        self._decoded: dict[tuple[int, str], DomainFinding] = {}

    def decoded(self, row: FindingAt, status: str, lang: str) -> DomainFinding:
        if (row.id, lang) not in self._decoded:
            stored = StoredFinding(row.id, row.fingerprint, status, row.data, row.texts)
            self._decoded[(row.id, lang)] = decoded(stored, lang)
        return self._decoded[(row.id, lang)]

    def covering(self, domain: str) -> list[RuleRow]:
        return covering(self.rules, domain, self.organisations.get(domain))


def _finding_alerts(batch: _Batch, row: dict[str, Any]) -> list[NewAlert]:
    stored = batch.findings.get(row["finding"])
    rules = batch.covering(row["domain"])
    if stored is None or not rules:
        return []
    english = batch.decoded(stored, row["status"], "en")
    if english.report_loop:
        return []
    problem = f"finding:{row['domain']}:{row['fingerprint']}"
    mode = batch.modes.get(row["domain"], "")
    out = []
    for rule in rules:
        if rule.kinds and row["finding_kind"] not in rule.kinds:
            continue
        decided = finding_event(batch.history, rule, problem, row["status"], row["severity"],
                                english.confirmed, row["at"])
        if decided is None or (rule.events and decided[0] not in rule.events):
            continue
        data = snapshot(batch.decoded(stored, row["status"], rule.lang), stored.id, mode,
                        row["before_severity"])
        out.append(_new(batch.salt, rule, decided[0], row["domain"], stored.id, problem,
                        row["severity"], data, _stamp(row), decided[1], row["at"]))
        if not decided[1]:
            batch.history.told(rule.id, problem, decided[0], row["severity"], row["at"])
    return out


def _check_alerts(batch: _Batch, row: dict[str, Any]) -> list[NewAlert]:
    found = batch.checks.get(row["check_id"])
    rules = batch.covering(row["domain"])
    if found is None or not rules:
        return []
    check, warnings = found
    out = []
    for warning in warnings:
        for rule in rules:
            if (rule.events and CHECK_WARNING not in rule.events) or (
                    rule.kinds and warning.kind not in rule.kinds) or not severity_passes(
                    warning.severity, rule.min_severity):
                continue
            if batch.history.last(rule.id, warning.problem) is not None:
                continue  # told of it already: each threshold, each policy, each MX set once
            out.append(_new(batch.salt, rule, CHECK_WARNING, row["domain"], None, warning.problem,
                            warning.severity, checkwarn.snapshot(warning, rule.lang, check),
                            _stamp(row), False, row["at"]))
            batch.history.told(rule.id, warning.problem, CHECK_WARNING, warning.severity,
                               row["at"])
    return out


FAN_OUT = 2000  # events turned into alerts in one transaction


def _fan_out(connection: Connection, limit: int, now: dt.datetime) -> tuple[int, int]:
    rows = alerts_rows.take_events(connection, limit)
    if not rows:
        return 0, 0
    rules = alerts_rows.rules(connection)
    made: list[NewAlert] = []
    if rules:
        batch = _Batch(connection, rows, rules)
        for row in rows:
            made += (_finding_alerts if row["kind"] == "finding" else _check_alerts)(batch, row)
    written = alerts_rows.write_alerts(connection, made, now)
    alerts_rows.drop_events(connection, [int(row["id"]) for row in rows])
    return len(rows), written


def fan_out(store: Store, now: dt.datetime | None = None) -> int:
    """Turn the stored events into alerts, in order, FAN_OUT at a time, until none is left;
    returns how many alerts (suppressed ones included) were written. Safe on several nodes:
    each transaction holds the fleet's fan-out lock and deletes the events it read."""
    written = 0
    while True:
        events_done, alerts_made = store.write(_fan_out, FAN_OUT,
                                               now or dt.datetime.now(dt.UTC))
        written += alerts_made
        if events_done < FAN_OUT:
            return written


def _silent(connection: Connection, days: int, now: dt.datetime,
            only: set[str] | None) -> int:
    written = 0
    today = now.astimezone(dt.UTC).date()
    every = alerts_rows.rules(connection)
    if not every:
        return 0
    keyed = salt(connection)
    for domain, last in sorted(alerts_rows.last_report_days(connection).items()):
        if (today - last).days <= days or (only is not None and domain not in only):
            continue
        problem = f"silent:{domain}:{last.isoformat()}"
        organisation = alerts_rows.domain_organisation(connection, domain)
        for rule in covering(every, domain, organisation):
            if (rule.events and SILENT not in rule.events) or not severity_passes(
                    Severity.MEDIUM, rule.min_severity):
                continue
            data = checkwarn.silent_snapshot(domain, last, today, rule.lang)
            written += alerts_rows.write_alert(connection, _new(
                keyed, rule, SILENT, domain, None, problem, Severity.MEDIUM, data, last.isoformat(),
                False, now), now)
    return written


def silence(store: Store, days: int, now: dt.datetime | None = None,
            only: set[str] | None = None) -> int:
    """Write a receiver.silent alert for each domain whose newest report is more than `days`
    days old (once per silence: its key is the domain and that day); returns how many."""
    if days <= 0:
        return 0
    return store.write(_silent, days, now or dt.datetime.now(dt.UTC), only)


def _down(connection: Connection, what: str, since: dt.datetime, error: str,
          now: dt.datetime) -> int:
    problem = f"receiver:{what}:{since.date().isoformat()}"
    written = 0
    keyed = salt(connection)
    for rule in alerts_rows.rules(connection):
        if rule.organisation is not None or (rule.events and SILENT not in rule.events):
            continue
        if alerts_rows.last_sent(connection, rule.id, problem) is not None:
            continue  # told of this mailbox's trouble today already: not again (flapping)
        data = checkwarn.down_snapshot(what, since, error, rule.lang)
        written += alerts_rows.write_alert(connection, _new(
            keyed, rule, SILENT, "", None, problem, Severity.HIGH, data, since.isoformat(), False,
            now), now)
    return written


def receiver_down(store: Store, what: str, since: dt.datetime, error: str,
                  now: dt.datetime | None = None) -> int:
    """A receiver (an IMAP mailbox) unreachable since `since`: one alert per mailbox and day
    (a mailbox that comes and goes is not a flood), to the installation's rules."""
    return store.write(_down, what, since, error[:500], now or dt.datetime.now(dt.UTC))
