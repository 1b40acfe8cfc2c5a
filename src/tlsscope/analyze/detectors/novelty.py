"""Something new compared with the domain's history: a result type, a failing MX or a
reporter first seen in the latest days, after enough days of reports without it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.detectors.words import texts
from tlsscope.facts import DomainFacts
from tlsscope.vocab import Severity

RECENT_DAYS = 2  # "new" means first seen in the latest two days with reports
MIN_HISTORY_DAYS = 7  # days with reports before them, so that "new" means something


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    report_days = sorted({p.day for p in facts.policies})
    if len(report_days) < MIN_HISTORY_DAYS + 1:
        return []
    cut = report_days[-1] - dt.timedelta(days=RECENT_DAYS - 1)
    history = [d for d in report_days if d < cut]
    if len(history) < MIN_HISTORY_DAYS:
        return []
    found: list[DomainFinding] = []
    failures = facts.failures

    def new(kind: str, items: Iterable[tuple[str, dt.date, str, str, int]]) -> None:
        seen_before: set[str] = set()
        recent: dict[str, list[Evidence]] = {}
        for name, day, report_key, reporter, sessions in items:
            if not name:
                continue
            if day < cut:
                seen_before.add(name)
            else:
                recent.setdefault(name, []).append(Evidence(
                    report_key=report_key, day=day, reporter=reporter, sessions=sessions))
        for name, evidence in sorted(recent.items()):
            if name in seen_before:
                continue
            sessions = sum(e.sessions for e in evidence)
            title, explanation, fix = texts(
                kind, lang, domain=facts.domain, name=name,
                first=min(e.day for e in evidence).isoformat(), sessions=sessions,
                history=len(history))
            found.append(DomainFinding.build(
                kind=kind, severity=Severity.INFO, domain=facts.domain,
                mx_host=name if kind == "new-failing-mx" else "",
                result_type=name if kind == "new-result-type" else "", sessions=sessions,
                title=title, explanation=explanation, fix=fix, evidence=evidence))

    new("new-result-type", ((f.result_type, f.day, f.report_key, f.reporter, f.sessions)
                            for f in failures))
    new("new-failing-mx", ((f.mx_host, f.day, f.report_key, f.reporter, f.sessions)
                           for f in failures))
    new("new-reporter", ((p.reporter, p.day, p.report_key, p.reporter,
                          p.successful + p.failed) for p in facts.policies if p.counted))
    return found
