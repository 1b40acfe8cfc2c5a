"""The shared shape of the result-type detectors: failure rows of some result types, grouped
by (result type, MX[, IP]), become findings with evidence, severity by mode, and a status."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable

from tlsscope.analyze import catalog
from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.facts import DomainFacts, FailureRow

Key = tuple[str, str, str]  # result type, MX, receiving IP


def findings(facts: DomainFacts, kind: str, result_types: Iterable[str],
             key: Callable[[FailureRow], Key], lang: str) -> list[DomainFinding]:
    wanted = set(result_types)
    # Per report, the same failure given under an sts and a tlsa policy is one set of
    # sessions (RFC 8460 §4.4): take the larger figure, never the sum.
    per_report: dict[Key, dict[str, list[FailureRow]]] = defaultdict(lambda: defaultdict(list))
    for row in facts.failures:
        if row.result_type in wanted:
            per_report[key(row)][row.report_key].append(row)
    last_report: dict[str, dt.date] = {}
    for policy in facts.policies:
        previous = last_report.get(policy.reporter)
        if previous is None or policy.day > previous:
            last_report[policy.reporter] = policy.day
    out = []
    for (result_type, mx, ip), reports in per_report.items():
        evidence = []
        for report_key, rows in reports.items():
            by_policy: dict[str, int] = defaultdict(int)
            for row in rows:
                by_policy[row.policy_type] += row.sessions
            first = rows[0]
            evidence.append(Evidence(report_key=report_key, day=first.day,
                                     reporter=first.reporter, sessions=max(by_policy.values()),
                                     receiving_ip=first.receiving_ip,
                                     sending_ip=first.sending_ip,
                                     reason_code=first.reason_code))
        evidence.sort(key=lambda e: (e.day, e.reporter, e.report_key))
        reporters = sorted({e.reporter for e in evidence})
        first_seen, last_seen = evidence[0].day, evidence[-1].day
        latest_row = max((r for rows in reports.values() for r in rows), key=lambda r: r.day)
        mode = catalog.policy_mode(latest_row.policy_type, latest_row.mode)
        resolved = all(last_report.get(name, last_seen) > last_seen for name in reporters)
        explained = catalog.explain(result_type, mode, lang, domain=facts.domain,
                                    mx=mx or None)
        title = f"{mx}: {explained.title}" if mx else explained.title
        out.append(DomainFinding(
            kind=kind, severity=explained.severity, domain=facts.domain, mx_host=mx,
            receiving_ip=ip, result_type=result_type, reporters=reporters,
            first_seen=first_seen, last_seen=last_seen,
            sessions=sum(e.sessions for e in evidence),
            status="resolved" if resolved else "open", title=title,
            explanation=f"{explained.meaning} {explained.effect}", fix=explained.fix,
            evidence=evidence))
    return out


def per_mx_and_ip(row: FailureRow) -> Key:
    return (row.result_type, row.mx_host, row.receiving_ip)


def per_mx(row: FailureRow) -> Key:
    return (row.result_type, row.mx_host, "")


def per_domain(row: FailureRow) -> Key:
    return (row.result_type, "", "")
