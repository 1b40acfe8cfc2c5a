"""The outbox: what is to be told, written in the transaction of the change that causes it.

It subscribes to tlsscope.app.events: a stored finding that opened or changed, a live check
done. For each rule that covers the domain it decides the event, writes the alert (with the
snapshot of what it says, in the rule's language) and its delivery's due time, or writes it
as suppressed. A failure here takes the change back with it: nothing is announced that did
not happen, and nothing that happened goes unannounced. `silence` (the re-checker's and
`tlsscope alerts deliver`'s pass) and `receiver_down` (serve's mailbox) write the receivers'
alerts the same way.

One problem, one alert: the findings of one cause are one finding already (analyze/detectors/
grouping.py), and a rule hears of a problem again only when it escalates, or after its
suppression days (default 7), or once it was told the problem went away.
    finding.opened      a confirmed finding opened (or opened again) at least at min_severity
    finding.escalated   its severity rose since the rule was told of it
    finding.likely_fixed, finding.resolved   of a finding the rule was told of
    check.warning       a certificate expiring in 14 / 7 / 1 days (or expired), a policy
                        changed under the same id, an MX outside the policy
    receiver.silent     no report for a domain for alerts_silent_days; a mailbox unreachable
Unconfirmed findings (analyze/confirm.py) and those about the reports' own delivery
(`report_loop`) are never alerted on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import msgspec

from tlsscope.alert import checkwarn, timing
from tlsscope.alert.rules import severity_passes
from tlsscope.analyze.detectors import DomainFinding
from tlsscope.app import events
from tlsscope.app.findings import decoded
from tlsscope.live_check import LiveCheck
from tlsscope.store import Store, alerts_rows
from tlsscope.store.alerts_rows import NewAlert, RuleRow
from tlsscope.store.findings_rows import StoredFinding
from tlsscope.vocab import FindingStatus, Severity, severity_rank

Connection = events.Connection
OPENED, ESCALATED = "finding.opened", "finding.escalated"
LIKELY_FIXED, RESOLVED = "finding.likely_fixed", "finding.resolved"
CHECK_WARNING, SILENT = "check.warning", "receiver.silent"
_OPEN_EVENTS = (OPENED, ESCALATED)


def key(rule: int, event: str, problem: str, stamp: str) -> str:
    """An alert's stable id: the same change seen by two nodes is one alert."""
    digest = hashlib.sha256(f"{rule}|{event}|{problem}|{stamp}".encode()).hexdigest()
    return "al_" + digest[:32]


def covering(connection: Connection, domain: str) -> list[RuleRow]:
    """The rules that hear of `domain`: the installation's, and its organisation's; each
    narrowed by its domains."""
    organisation = alerts_rows.domain_organisation(connection, domain)
    return [rule for rule in alerts_rows.rules(connection)
            if (rule.organisation is None or rule.organisation == organisation)
            and (not rule.domains or domain in rule.domains)]


def _repeat(connection: Connection, rule: RuleRow, problem: str, severity: str,
            events_: tuple[str, ...], now: dt.datetime) -> bool:
    """Told of this problem, at least this severe, within the rule's suppression days."""
    if rule.suppress_days <= 0:
        return False
    since = now - dt.timedelta(days=rule.suppress_days)
    return any(severity_rank(sent.severity) <= severity_rank(severity)
               for sent in alerts_rows.sent_since(connection, rule.id, problem, events_, since))


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


def _write(connection: Connection, rule: RuleRow, event: str, domain: str,
           finding: int | None, problem: str, severity: str, data: dict[str, Any],
           stamp: str, suppressed: bool, now: dt.datetime) -> bool:
    critical = severity == Severity.CRITICAL and rule.quiet_critical
    due = timing.due(now, rule.batch, rule.quiet, rule.timezone, critical)
    data = {**data, "event": event}
    return alerts_rows.write_alert(connection, NewAlert(
        key=key(rule.id, event, problem, stamp), rule=rule.id, event=event, domain=domain,
        finding=finding, problem=problem, severity=severity,
        data=msgspec.json.encode(_plain(data)).decode(), suppressed=suppressed, due_at=due,
        batched=rule.channel != "generic" and due > now), now)


def finding_event(connection: Connection, rule: RuleRow, problem: str, status: str,
                  severity: str, confirmed: bool, now: dt.datetime) -> tuple[str, bool] | None:
    """What `rule` is to hear of a finding now (event, suppressed), or None."""
    last = alerts_rows.last_sent(connection, rule.id, problem)
    told_open = last is not None and last.event in _OPEN_EVENTS
    if status == FindingStatus.OPEN:
        if not confirmed or not severity_passes(severity, rule.min_severity):
            return None
        if told_open:
            assert last is not None
            if severity_rank(severity) < severity_rank(last.severity):
                return ESCALATED, False
            return None
        return OPENED, _repeat(connection, rule, problem, severity, _OPEN_EVENTS, now)
    if status == FindingStatus.LIKELY_FIXED:
        return (LIKELY_FIXED, False) if told_open else None
    if status == FindingStatus.RESOLVED:
        told = last is not None and last.event in (*_OPEN_EVENTS, LIKELY_FIXED)
        return (RESOLVED, False) if told else None
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


def on_finding_changed(connection: Connection, event: events.FindingChanged) -> None:
    change = event.change
    rules = covering(connection, change.domain)
    if not rules:
        return
    row = alerts_rows.finding(connection, change.finding_id)
    if row is None:
        return
    stored = StoredFinding(row.id, row.fingerprint, change.status, row.data, row.texts)
    english = decoded(stored, "en")
    if english.report_loop:
        return
    problem = f"finding:{change.domain}:{change.fingerprint}"
    mode = alerts_rows.latest_modes(connection, [change.domain]).get(change.domain, "")
    stamp = f"{event.at.isoformat()}|{change.status}|{change.severity}"
    texts: dict[str, DomainFinding] = {"en": english}
    for rule in rules:
        if rule.kinds and change.kind not in rule.kinds:
            continue
        decided = finding_event(connection, rule, problem, change.status, change.severity,
                                english.confirmed, event.at)
        if decided is None or (rule.events and decided[0] not in rule.events):
            continue
        if rule.lang not in texts:
            texts[rule.lang] = decoded(stored, rule.lang)
        data = snapshot(texts[rule.lang], row.id, mode, change.before_severity)
        _write(connection, rule, decided[0], change.domain, row.id, problem, change.severity,
               data, stamp, decided[1], event.at)


def on_check_done(connection: Connection, event: events.CheckDone) -> None:
    rules = covering(connection, event.domain)
    if not rules:
        return
    raw = alerts_rows.check_data(connection, event.check_id)
    if raw is None:
        return
    check = msgspec.json.decode(raw, type=LiveCheck)
    mode = alerts_rows.latest_modes(connection, [event.domain]).get(event.domain, "")
    for warning in checkwarn.warnings(check, mode or check.policy_mode):
        for rule in rules:
            if (rule.events and CHECK_WARNING not in rule.events) or (
                    rule.kinds and warning.kind not in rule.kinds) or not severity_passes(
                    warning.severity, rule.min_severity):
                continue
            if alerts_rows.last_sent(connection, rule.id, warning.problem) is not None:
                continue  # told of it already: each threshold, each policy, each MX set once
            data = checkwarn.snapshot(warning, rule.lang, check)
            _write(connection, rule, CHECK_WARNING, event.domain, None, warning.problem,
                   warning.severity, data, str(event.check_id), False, event.at)


def _silent(connection: Connection, days: int, now: dt.datetime,
            only: set[str] | None) -> int:
    written = 0
    today = now.astimezone(dt.UTC).date()
    every = alerts_rows.rules(connection)
    if not every:
        return 0
    for domain, last in sorted(alerts_rows.last_report_days(connection).items()):
        if (today - last).days <= days or (only is not None and domain not in only):
            continue
        problem = f"silent:{domain}:{last.isoformat()}"
        for rule in covering(connection, domain):
            if (rule.events and SILENT not in rule.events) or not severity_passes(
                    Severity.MEDIUM, rule.min_severity):
                continue
            data = checkwarn.silent_snapshot(domain, last, today, rule.lang)
            written += _write(connection, rule, SILENT, domain, None, problem,
                              Severity.MEDIUM, data, last.isoformat(), False, now)
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
    for rule in alerts_rows.rules(connection):
        if rule.organisation is not None or (rule.events and SILENT not in rule.events):
            continue
        data = checkwarn.down_snapshot(what, since, error, rule.lang)
        written += _write(connection, rule, SILENT, "", None, problem, Severity.HIGH, data,
                          since.isoformat(), False, now)
    return written


def receiver_down(store: Store, what: str, since: dt.datetime, error: str,
                  now: dt.datetime | None = None) -> int:
    """A receiver (an IMAP mailbox) unreachable since `since`: one alert per outage, to the
    installation's rules (the operator's)."""
    return store.write(_down, what, since, error[:500], now or dt.datetime.now(dt.UTC))
