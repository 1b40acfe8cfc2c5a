"""Reporter disagreement: on the same day and under the same policy type, one reporter fails
while the others report only successes. Raised only when the failing reporter is alone against
at least two clean ones, so that a problem most senders see is not called a disagreement."""

from __future__ import annotations

from collections import defaultdict

from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.detectors.words import names, texts
from tlsscope.analyze.facts import DomainFacts, PolicyDay

MIN_CLEAN = 2


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    by_day: dict[tuple[object, str], list[PolicyDay]] = defaultdict(list)
    for policy in facts.policies:
        by_day[(policy.day, policy.policy_type)].append(policy)
    lone: dict[tuple[str, str], list[tuple[PolicyDay, list[str]]]] = defaultdict(list)
    for (_, policy_type), rows in by_day.items():
        failing = {p.reporter for p in rows if p.failed > 0}
        clean = sorted({p.reporter for p in rows if p.failed == 0 and p.successful > 0}
                       - failing)
        if len(failing) == 1 and len(clean) >= MIN_CLEAN:
            (reporter,) = failing
            for p in rows:
                if p.reporter == reporter and p.failed > 0:
                    lone[(reporter, policy_type)].append((p, clean))
    found = []
    for (reporter, policy_type), items in sorted(lone.items()):
        others = sorted({name for _, clean in items for name in clean})
        sessions = sum(p.failed for p, _ in items)
        days = sorted({p.day for p, _ in items})
        title, explanation, fix = texts(
            "reporter-disagreement", lang, domain=facts.domain, reporter=reporter,
            days=len(days), sessions=sessions, policy=policy_type, others=names(others, lang))
        evidence = [Evidence(report_key=p.report_key, day=p.day, reporter=reporter,
                             sessions=p.failed) for p, _ in sorted(items, key=lambda i: i[0].day)]
        found.append(DomainFinding(
            kind="reporter-disagreement", severity="info", domain=facts.domain, mx_host="",
            receiving_ip="", result_type="", reporters=[reporter], first_seen=days[0],
            last_seen=days[-1], sessions=sessions, status="open", title=title,
            explanation=explanation, fix=fix, evidence=evidence))
    return found
