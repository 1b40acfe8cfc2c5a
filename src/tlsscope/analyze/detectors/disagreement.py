"""Reporter disagreement: on the same days and under the same policy type, some reporters fail
a material share of their sessions while at least two others fail almost none. One finding per
domain, naming every such reporter; raised only when it is material relative to volume, so
that 3 sessions out of 80,000 are not called a disagreement (the thresholds below are in
docs/explanations.md). A problem most senders see is not a disagreement either."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import NamedTuple

from tlsscope.analyze import catalog
from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.detectors.words import names, variant_texts
from tlsscope.facts import DomainFacts, PolicyDay
from tlsscope.vocab import Severity

MIN_CLEAN = 2  # other reporters with sessions under the same policy type that day
MIN_SESSIONS = 10  # failed sessions of the reporter, over the days it disagrees on
MIN_SHARE = 1.0  # percent of that reporter's sessions failed, each of those days
OTHERS_MAX_SHARE = 0.1  # percent of the other reporters' sessions failed, those days


class Lone(NamedTuple):
    day: dt.date
    rows: list[PolicyDay]  # the reporter's policies of that day and type
    others: list[str]

    @property
    def failed(self) -> int:
        return sum(p.failed for p in self.rows)

    @property
    def sessions(self) -> int:
        return sum(p.failed + p.successful for p in self.rows)


def _share(failed: int, sessions: int) -> float:
    return 100.0 * failed / sessions if sessions else 0.0


def _lone_days(facts: DomainFacts) -> dict[str, list[Lone]]:
    by_day: dict[tuple[dt.date, str], dict[str, list[PolicyDay]]] = defaultdict(
        lambda: defaultdict(list))
    for policy in facts.policies:
        by_day[(policy.day, policy.policy_type)][policy.reporter].append(policy)
    lone: dict[str, list[Lone]] = defaultdict(list)
    for (day, _), reporters in sorted(by_day.items()):
        sums = {name: (sum(p.failed for p in rows), sum(p.failed + p.successful for p in rows))
                for name, rows in reporters.items()}
        # The day's totals once; "the others" are the day minus the reporter (linear in the
        # number of reporters, which is thousands for a big domain).
        all_failed = sum(f for f, _ in sums.values())
        all_sessions = sum(t for _, t in sums.values())
        with_sessions = sum(1 for _, t in sums.values() if t > 0)
        for name, (failed, sessions) in sums.items():
            others = with_sessions - (1 if sessions > 0 else 0)
            if (failed == 0 or others < MIN_CLEAN
                    or _share(failed, sessions) < MIN_SHARE
                    or _share(all_failed - failed, all_sessions - sessions) >= OTHERS_MAX_SHARE):
                continue
            lone[name].append(Lone(day, reporters[name],
                                   sorted(o for o, s in sums.items() if o != name and s[1] > 0)))
    return lone


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    material = {name: items for name, items in _lone_days(facts).items()
                if sum(i.failed for i in items) >= MIN_SESSIONS}
    if not material:
        return []
    words = catalog.Words(lang)
    details = [words.say("finding_notes", "disagreement", reporter=name, domain=facts.domain,
                         sessions=words.number(sum(i.failed for i in items)), days=len(items),
                         share=words.percent(_share(sum(i.failed for i in items),
                                                    sum(i.sessions for i in items))))
               for name, items in sorted(material.items())]
    reporters = sorted(material)
    others = sorted({o for items in material.values() for i in items for o in i.others}
                    - set(reporters))
    title, explanation, fix = variant_texts(
        "reporter-disagreement", lang, "_one" if len(reporters) == 1 else "",
        domain=facts.domain, reporters=names(reporters, lang), details="; ".join(details),
        others=names(others, lang), others_max=words.percent(OTHERS_MAX_SHARE))
    items = sorted((i for items in material.values() for i in items), key=lambda i: i.day)
    evidence = [Evidence(report_key=p.report_key, day=p.day, reporter=p.reporter,
                         sessions=p.failed) for i in items for p in i.rows if p.failed]
    return [DomainFinding.build(
        kind="reporter-disagreement", severity=Severity.INFO, domain=facts.domain,
        sessions=sum(i.failed for i in items), title=title, explanation=explanation, fix=fix,
        evidence=evidence)]
