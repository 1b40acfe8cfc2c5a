"""The shared shape of the result-type detectors: failure rows of some result types, grouped
by (result type, MX), become findings with evidence, severity by mode, and a status.

One finding per result type and MX, whoever reported it: Google names the receiving IP of a
failure, Microsoft does not (RFC 8460 §4.4 makes `receiving-ip` optional), and both rows are
the same problem. The finding names the receiving IP when every row that names one names the
same; with several, the explanation lists them (one node of a pool with an old certificate
shows as its own address)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable

from tlsscope.analyze import catalog
from tlsscope.analyze.detectors import modes
from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.facts import DomainFacts, FailureRow
from tlsscope.vocab import FindingStatus

Key = tuple[str, str]  # result type, MX ("" when about the domain)


def findings(facts: DomainFacts, kind: str, result_types: Iterable[str],
             key: Callable[[FailureRow], Key], lang: str) -> list[DomainFinding]:
    wanted = set(result_types)
    per_report: dict[Key, dict[str, list[FailureRow]]] = defaultdict(lambda: defaultdict(list))
    for row in facts.failures:
        if row.result_type in wanted:
            per_report[key(row)][row.report_key].append(row)
    last_report = last_reports(facts)
    return [_finding(facts, kind, result_type, mx, reports, last_report, lang)
            for (result_type, mx), reports in per_report.items()]


def last_reports(facts: DomainFacts) -> dict[str, dt.date]:
    """Each reporter's latest report day in the window."""
    last: dict[str, dt.date] = {}
    for policy in facts.policies:
        previous = last.get(policy.reporter)
        if previous is None or policy.day > previous:
            last[policy.reporter] = policy.day
    return last


def report_evidence(reports: dict[str, list[FailureRow]]) -> list[Evidence]:
    """One Evidence per report and receiving IP (in the order of the IPs within a report).
    The same failure given under an sts and a tlsa policy of a report is one set of sessions
    (RFC 8460 §4.4): the larger figure, never the sum."""
    evidence = []
    for report_key, rows in reports.items():
        by_ip: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in rows:
            by_ip[row.receiving_ip][row.policy_type] += row.sessions
        first = rows[0]
        for ip, by_policy in sorted(by_ip.items()):
            sample = min((r for r in rows if r.receiving_ip == ip),  # whatever the order
                         key=lambda r: (r.sending_ip, r.reason_code))
            evidence.append(Evidence(report_key=report_key, day=first.day,
                                     reporter=first.reporter, sessions=max(by_policy.values()),
                                     receiving_ip=ip, sending_ip=sample.sending_ip,
                                     reason_code=sample.reason_code))
    return evidence


def _finding(facts: DomainFacts, kind: str, result_type: str, mx: str,
             reports: dict[str, list[FailureRow]], last_report: dict[str, dt.date],
             lang: str) -> DomainFinding:
    evidence = report_evidence(reports)
    rows = [r for rows in reports.values() for r in rows]
    ips = sorted({r.receiving_ip for r in rows} - {""})
    mode = modes.judged(rows)  # the latest day's strictest mode, whatever the list order
    explained = catalog.explain(result_type, mode.mode, lang, domain=facts.domain,
                                mx=mx or None)
    title = f"{mx}: {explained.title}" if mx else explained.title
    explanation = " ".join(filter(None, (explained.meaning, explained.effect,
                                         modes.note(mode, lang))))
    if len(ips) > 1:
        words = catalog.Words(lang)
        explanation += " " + words.say("finding_notes", "addresses", ips=words.names(ips))
    found = DomainFinding.build(
        kind=kind, severity=explained.severity, domain=facts.domain, mx_host=mx,
        receiving_ip=ips[0] if len(ips) == 1 else "", result_type=result_type,
        sessions=sum(e.sessions for e in evidence), title=title, explanation=explanation,
        fix=explained.fix, evidence=evidence)
    last_seen = found.last_seen
    if all(last_report.get(name, last_seen) > last_seen for name in found.reporters):
        found.status = FindingStatus.RESOLVED
    return found


def per_mx(row: FailureRow) -> Key:
    return (row.result_type, row.mx_host)


def per_domain(row: FailureRow) -> Key:
    return (row.result_type, "")
