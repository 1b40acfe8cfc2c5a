"""Evidence weighs what its source is worth: which findings are confirmed.

RFC 8460 §7: anyone can send a report. HTTPS reports (§5.4) carry no authentication at all,
and mail is only as good as its DKIM signature (§3). So a finding that rests only on
unauthenticated reports of a reporter new to the domain is *unconfirmed*: it is shown, marked
`confirmed: false`, held at medium severity at most, and never alerted on, until any of these
backs it up:

- a second reporter in its evidence;
- an authenticated report in its evidence (files or stdin given by the operator, or mail with
  a passing, aligned DKIM signature);
- another day: its evidence spans two days or more;
- a reporter that is not new: one that had reported the domain on a day before the finding's
  first day;
- a live check that confirms it (analyze/live.py).

Findings without report evidence (a silent reporter, readiness for enforce) are not about
what a report claims and stay confirmed. docs/explanations.md states the same rules.
"""

from __future__ import annotations

from tlsscope.analyze import catalog
from tlsscope.analyze.detectors.model import DomainFinding
from tlsscope.analyze.facts import DomainFacts

CAPPED = {"critical", "high"}  # an unconfirmed finding is at most "medium"


def unconfirmed(finding: DomainFinding, facts: DomainFacts) -> bool:
    """Whether the finding rests only on unauthenticated reports of one new reporter."""
    if not finding.evidence:
        return False
    if finding.live is not None and finding.live.verdict == "confirmed":
        return False
    reporters = {e.reporter for e in finding.evidence}
    if len(reporters) > 1 or len({e.day for e in finding.evidence}) > 1:
        return False
    authenticated = {p.report_key for p in facts.policies if p.authenticated}
    if any(e.report_key in authenticated for e in finding.evidence):
        return False
    (reporter,) = reporters
    first = facts.reporter_first_day.get(reporter)
    return first is None or first >= finding.first_seen


def weigh(findings: list[DomainFinding], facts: DomainFacts, lang: str = "en") -> None:
    """Mark the unconfirmed findings, cap their severity and say why, in place."""
    words = catalog.Words(lang)
    for finding in findings:
        if not unconfirmed(finding, facts):
            continue
        finding.confirmed = False
        if finding.severity in CAPPED:
            finding.severity = "medium"
        reporter = finding.evidence[0].reporter[:100]
        note = words.texts["note_unconfirmed"].format(reporter=reporter, domain=facts.domain,
                                                      day=finding.evidence[0].day.isoformat())
        finding.explanation = f"{finding.explanation} {note}"
