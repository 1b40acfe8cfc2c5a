"""Mode advice (RFC 8461 §5): a testing policy ready for enforce; what enforce would have
refused under testing; a domain for which senders found no policy at all.

The two testing findings never contradict each other: what enforce would have refused is
resolved once every reporter that saw it reported later without it, and as soon as the
clean run that makes the policy ready for enforce is there."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from tlsscope.analyze.detectors import modes
from tlsscope.analyze.detectors.by_result import last_reports
from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.detectors.words import names, texts
from tlsscope.facts import DomainFacts, PolicyDay
from tlsscope.vocab import NEGOTIATION_FAILURES, FindingStatus, PolicyType, Severity

CLEAN_DAYS = 14  # a run of clean days under testing before enforce is recommended
MIN_REPORTERS = 2
# Bound once for the loops over rows (see tlsscope.vocab).
_STS, _TLSA, _NONE = PolicyType.STS.value, PolicyType.TLSA.value, PolicyType.NO_POLICY_FOUND.value


def _finding(facts: DomainFacts, kind: str, severity: Severity, lang: str, sessions: int,
             evidence: list[Evidence], **values: object) -> DomainFinding:
    title, explanation, fix = texts(kind, lang, domain=facts.domain, sessions=sessions,
                                    **values)
    return DomainFinding.build(kind=kind, severity=severity, domain=facts.domain,
                               sessions=sessions, title=title, explanation=explanation,
                               fix=fix, evidence=evidence)


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    sts = [p for p in facts.policies if p.policy_type == _STS]
    found = []
    # The latest day's strictest quoted mode (a day the policy changed quotes several, in any
    # order); a report without policy-string quotes none.
    quoted = [p for p in sts if p.mode]
    latest = modes.judged(quoted) if quoted else None
    testing = [p for p in sts if p.mode == "testing"]
    if testing and latest is not None and latest.quoted[0] == "testing":
        advice = _testing_advice(facts, testing, lang)
        if note := modes.note(latest, lang):  # the day quoted testing and none
            for finding in advice:
                finding.explanation = f"{finding.explanation} {note}"
        found.extend(advice)
    missing = [p for p in facts.policies if p.policy_type == _NONE]
    has_policy = any(p.policy_type in (_STS, _TLSA) for p in facts.policies)
    if missing and not has_policy:
        evidence = [Evidence(report_key=p.report_key, day=p.day, reporter=p.reporter,
                             sessions=p.successful + p.failed) for p in missing]
        found.append(_finding(
            facts, "no-policy", Severity.MEDIUM, lang,
            sum(p.successful + p.failed for p in missing), evidence,
            reporters=names(sorted({p.reporter for p in missing}), lang)))
    return found


def _would_block(facts: DomainFacts, testing: list[PolicyDay],
                 lang: str) -> DomainFinding | None:
    blocked: dict[str, int] = defaultdict(int)
    evidence: dict[str, Evidence] = {}
    last_failed: dict[str, dt.date] = {}
    for row in facts.failures:
        # What an enforcing sender refuses (RFC 8461 §5): an MX that fails the policy's
        # checks. A policy it cannot fetch or read means no policy, not a refusal.
        if row.policy_type == _STS and row.mode == "testing" \
                and row.result_type in NEGOTIATION_FAILURES:
            blocked[row.result_type] += row.sessions
            old = evidence.get(row.report_key)
            evidence[row.report_key] = Evidence(
                report_key=row.report_key, day=row.day, reporter=row.reporter,
                sessions=row.sessions + (old.sessions if old else 0))
            last_failed[row.reporter] = max(row.day, last_failed.get(row.reporter, row.day))
    if not blocked:
        return None
    causes = ", ".join(f"{kind} ({count})" for kind, count in
                       sorted(blocked.items(), key=lambda kv: -kv[1]))
    found = _finding(facts, "testing-would-block", Severity.MEDIUM, lang,
                     sum(blocked.values()), list(evidence.values()), causes=causes)
    # Resolved like its causes: once every reporter that saw them reported later without.
    latest = last_reports(facts)
    if all(latest.get(name, day) > day for name, day in last_failed.items()):
        found.status = FindingStatus.RESOLVED
    return found


def _testing_advice(facts: DomainFacts, testing: list[PolicyDay],
                    lang: str) -> list[DomainFinding]:
    out = []
    blocking = _would_block(facts, testing, lang)
    last = max(p.day for p in testing)
    recent_start = last - dt.timedelta(days=CLEAN_DAYS - 1)
    recent = [p for p in testing if p.day >= recent_start]
    days_seen = {p.day for p in recent}
    failed_recently = any(p.failed for p in recent)
    reporters = sorted({p.reporter for p in recent})
    if (len(days_seen) >= CLEAN_DAYS and not failed_recently
            and len(reporters) >= MIN_REPORTERS and recent_start >= facts.since):
        evidence_ok = [Evidence(report_key=p.report_key, day=p.day, reporter=p.reporter,
                                sessions=p.successful) for p in recent]
        out.append(_finding(facts, "ready-for-enforce", Severity.INFO, lang,
                            sum(p.successful for p in recent), evidence_ok, days=CLEAN_DAYS,
                            reporters=names(reporters, lang)))
        if blocking is not None:  # a clean run since: what enforce would refuse is history
            blocking.status = FindingStatus.RESOLVED
    return ([blocking] if blocking else []) + out
