"""A receiving MX (or, when the report names none, its HELO name) that no mx line of the
domain's MTA-STS policy matches (RFC 8461 §4.1: a wildcard stands for one whole label).
Reports only name MX hosts in failure rows, so such an MX is seen when sessions to it fail."""

from __future__ import annotations

from collections import defaultdict

from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.detectors.words import texts
from tlsscope.analyze.facts import DomainFacts, FailureRow
from tlsscope.policy_text import mx_matches


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    patterns = {p.report_key: p.mx_patterns for p in facts.policies
                if p.policy_type == "sts" and p.mx_patterns}
    outside: dict[str, list[tuple[FailureRow, tuple[str, ...]]]] = defaultdict(list)
    for row in facts.failures:
        name = row.mx_host or row.helo
        allowed = patterns.get(row.report_key)
        if row.policy_type != "sts" or not name or not allowed:
            continue
        if not any(mx_matches(pattern, name) for pattern in allowed):
            outside[name].append((row, allowed))
    found = []
    for mx, rows in sorted(outside.items()):
        sessions = sum(row.sessions for row, _ in rows)
        latest, allowed = max(rows, key=lambda item: item[0].day)
        title, explanation, fix = texts("mx-outside-policy", lang, domain=facts.domain, mx=mx,
                                        patterns=", ".join(allowed), sessions=sessions)
        evidence = sorted({Evidence(report_key=r.report_key, day=r.day, reporter=r.reporter,
                                    sessions=r.sessions, receiving_ip=r.receiving_ip,
                                    reason_code=r.reason_code) for r, _ in rows},
                          key=lambda e: (e.day, e.reporter, e.report_key))
        found.append(DomainFinding(
            kind="mx-outside-policy",
            severity="high" if latest.mode == "enforce" else "medium", domain=facts.domain,
            mx_host=mx, receiving_ip="", result_type=latest.result_type,
            reporters=sorted({r.reporter for r, _ in rows}), first_seen=evidence[0].day,
            last_seen=evidence[-1].day, sessions=sessions, status="open", title=title,
            explanation=explanation, fix=fix, evidence=evidence))
    return found
