"""A failure rate above the domain's own baseline (a spike), not above a fixed number: the
latest day's share of failed sessions against the median of the days before it. Sessions
given under both an sts and a tlsa policy count once (RFC 8460 §4.4: `counted`)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict

from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.detectors.words import texts
from tlsscope.analyze.facts import DomainFacts, PolicyDay

MIN_BASE_DAYS = 7
MIN_FAILED = 10  # sessions: a handful of failures is not a spike
FACTOR = 3.0  # times the baseline rate ...
MIN_RISE = 2.0  # ... and at least this many percentage points above it


def _rate(failed: int, total: int) -> float:
    return 100.0 * failed / total if total else 0.0


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    days: dict[dt.date, list[PolicyDay]] = defaultdict(list)
    for policy in facts.policies:
        if policy.counted:
            days[policy.day].append(policy)
    if len(days) < MIN_BASE_DAYS + 1:
        return []
    ordered = sorted(days)
    last = ordered[-1]
    failed = sum(p.failed for p in days[last])
    total = failed + sum(p.successful for p in days[last])
    base = [_rate(sum(p.failed for p in days[d]),
                  sum(p.failed + p.successful for p in days[d])) for d in ordered[:-1]]
    baseline = statistics.median(base)
    rate = _rate(failed, total)
    if failed < MIN_FAILED or rate < baseline * FACTOR or rate < baseline + MIN_RISE:
        return []
    title, explanation, fix = texts(
        "failure-spike", lang, domain=facts.domain, day=last.isoformat(), rate=f"{rate:.1f}",
        failed=failed, sessions=total, baseline=f"{baseline:.1f}", base_days=len(base))
    evidence = [Evidence(report_key=p.report_key, day=p.day, reporter=p.reporter,
                         sessions=p.failed) for p in days[last] if p.failed]
    return [DomainFinding(
        kind="failure-spike", severity="high", domain=facts.domain, mx_host="",
        receiving_ip="", result_type="", reporters=sorted({e.reporter for e in evidence}),
        first_seen=last, last_seen=last, sessions=failed, status="open", title=title,
        explanation=explanation, fix=fix, evidence=evidence)]
