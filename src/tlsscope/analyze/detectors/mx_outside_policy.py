"""A receiving MX (or, when the report names none, its HELO name) that no mx line of the
domain's MTA-STS policy matches (RFC 8461 §4.1: a wildcard stands for one whole label).
Reports only name MX hosts in failure rows, so such an MX is seen when sessions to it fail.

Each failure row is judged against the mx lines of the policy it was reported under (its
report's policies[] entry, RFC 8460 §4.4): a report of a day the policy changed gives both
versions, and a session under the old one is not judged by the new one's lines. The finding
is resolved once every reporter that saw it has since reported under a policy covering it."""

from __future__ import annotations

from collections import defaultdict

from tlsscope.analyze.detectors import modes
from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.detectors.words import texts
from tlsscope.facts import DomainFacts, FailureRow
from tlsscope.policy_text import mx_matches
from tlsscope.vocab import FindingStatus, PolicyType, Severity

# Bound once for the loops over rows (see tlsscope.vocab).
_STS = PolicyType.STS.value
Outside = list[tuple[FailureRow, tuple[str, ...]]]  # each row, with the lines it was judged by


def _outside(facts: DomainFacts) -> dict[str, Outside]:
    patterns = {(p.report_key, p.policy_idx): p.mx_patterns for p in facts.policies
                if p.policy_type == _STS and p.mx_patterns}
    outside: dict[str, Outside] = defaultdict(list)
    for row in facts.failures:
        name = row.mx_host or row.helo
        allowed = patterns.get((row.report_key, row.policy_idx))
        if row.policy_type != _STS or not name or not allowed:
            continue
        if not any(mx_matches(pattern, name) for pattern in allowed):
            outside[name].append((row, allowed))
    return outside


def _covered_since(facts: DomainFacts, mx: str, rows: Outside) -> bool:
    """Every reporter that saw `mx` outside has a later report whose latest policy covers it."""
    for reporter in {row.reporter for row, _ in rows}:
        last_bad = max(row.day for row, _ in rows if row.reporter == reporter)
        later = [p for p in facts.policies if p.reporter == reporter and p.day > last_bad
                 and p.policy_type == _STS and p.mx_patterns]
        if not later:
            return False
        # Every version of the latest day: which came last is not in the report (its
        # policies[] order says nothing), so one that still leaves the MX out keeps it open.
        day = max(p.day for p in later)
        if not all(any(mx_matches(pattern, mx) for pattern in p.mx_patterns)
                   for p in later if p.day == day):
            return False
    return True


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    found = []
    for mx, rows in sorted(_outside(facts).items()):
        sessions = sum(row.sessions for row, _ in rows)
        failed = [row for row, _ in rows]
        mode = modes.judged(failed)  # the latest day's strictest, whatever the list order
        result_type = max((r.day, r.result_type) for r in failed)[1]
        versions = sorted({allowed for _, allowed in rows})
        title, explanation, fix = texts(
            "mx-outside-policy", lang, domain=facts.domain, mx=mx,
            patterns="; ".join(", ".join(allowed) for allowed in versions), sessions=sessions)
        explanation = " ".join(filter(None, (explanation, modes.note(mode, lang))))
        # One Evidence per distinct figure (a set): the same row under two policies is one.
        evidence = {Evidence(report_key=r.report_key, day=r.day, reporter=r.reporter,
                             sessions=r.sessions, receiving_ip=r.receiving_ip,
                             reason_code=r.reason_code) for r, _ in rows}
        found.append(DomainFinding.build(
            kind="mx-outside-policy",
            severity=Severity.HIGH if mode.mode == "enforce" else Severity.MEDIUM,
            domain=facts.domain, mx_host=mx, result_type=result_type, sessions=sessions,
            status=(FindingStatus.RESOLVED if _covered_since(facts, mx, rows)
                    else FindingStatus.OPEN),
            title=title, explanation=explanation, fix=fix, evidence=evidence))
    return found
