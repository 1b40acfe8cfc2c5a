"""A reporter that used to report daily and has gone silent while others still report.
Info only: some senders (Microsoft) report only on days they sent mail (RFC 8460 §4.1 asks
for a report per day with sessions, not every day)."""

from __future__ import annotations

from collections import defaultdict

from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.detectors.words import texts
from tlsscope.facts import DomainFacts, PolicyDay
from tlsscope.vocab import Severity

MIN_ACTIVE_DAYS = 7
MIN_SHARE = 0.8  # of the days from its first report to its last
SILENT_DAYS = 3  # days without a report, while others report, before we say so


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    by_reporter: dict[str, list[PolicyDay]] = defaultdict(list)
    for policy in facts.policies:
        by_reporter[policy.reporter].append(policy)
    latest_overall = max((p.day for p in facts.policies), default=None)
    # Each reporter's last day; "others report later" needs only the two latest of them.
    lasts = sorted(((max(p.day for p in rows), name) for name, rows in by_reporter.items()),
                   reverse=True)
    found = []
    for reporter, rows in sorted(by_reporter.items()):
        days = sorted({p.day for p in rows})
        first, last = days[0], days[-1]
        span = (last - first).days + 1
        others_later = any(day > last for day, name in lasts[:2] if name != reporter)
        if (latest_overall is None or len(days) < MIN_ACTIVE_DAYS
                or len(days) / span < MIN_SHARE or not others_later
                or (latest_overall - last).days < SILENT_DAYS):
            continue
        title, explanation, fix = texts("reporter-silent", lang, domain=facts.domain,
                                        reporter=reporter, active=len(days), span=span,
                                        last=last.isoformat())
        evidence = [Evidence(report_key=p.report_key, day=p.day, reporter=reporter,
                             sessions=p.successful + p.failed) for p in rows]
        found.append(DomainFinding.build(
            kind="reporter-silent", severity=Severity.INFO, domain=facts.domain, sessions=0,
            title=title, explanation=explanation, fix=fix, evidence=evidence))
    return found
