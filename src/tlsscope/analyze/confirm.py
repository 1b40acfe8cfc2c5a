"""Evidence weighs what its source is worth: which findings are confirmed.

RFC 8460 §7: anyone can send a report. An HTTPS report (§5.4) carries no authentication at
all, and mail is only as good as its DKIM signature (§3); what a report *claims* (its
organisation, its day) costs a forger nothing. So a finding whose evidence is all
unauthenticated is *unconfirmed* unless something a forger cannot simply write backs it up:

- reports received on two days or more (the day tlsscope stored them, not the day they claim);
- two reporters sending from two different addresses (two names in one POST are one source);
- a known reporter: the same organisation had sent reports about the domain, by the same
  channel and from the same address, on a day before this evidence arrived;
- a live check that confirms it (analyze/live.py).

An authenticated report in the evidence (files and stdin given by the operator, mail with a
passing aligned DKIM signature) confirms it at once. An unconfirmed finding is shown, marked
`confirmed: false`, held at medium severity at most, and never alerted on. Findings without
report evidence (a silent reporter, readiness for enforce) are not what a report claims and
stay confirmed. docs/explanations.md states the same rules.
"""

from __future__ import annotations

import datetime as dt

from tlsscope.analyze import catalog
from tlsscope.analyze.detectors.model import DomainFinding
from tlsscope.facts import DomainFacts, PolicyDay
from tlsscope.live_check import CONFIRMED
from tlsscope.vocab import Severity, severity_rank

CAP = Severity.MEDIUM  # an unconfirmed finding is at most this severe


def capped(severity: Severity) -> Severity:
    """The severity of an unconfirmed finding (or problem): at most CAP."""
    return CAP if severity_rank(severity) < severity_rank(CAP) else severity


def unconfirmed(finding: DomainFinding, facts: DomainFacts,
                reports: dict[str, PolicyDay] | None = None) -> bool:
    """Whether nothing a forger could not write backs the finding up."""
    if not finding.evidence:
        return False
    if finding.live is not None and finding.live.verdict == CONFIRMED:
        return False
    reports = reports if reports is not None else _by_key(facts)
    evidence = [reports[e.report_key] for e in finding.evidence if e.report_key in reports]
    if not evidence or any(p.authenticated for p in evidence):
        return False
    received = {p.received for p in evidence if p.received is not None}
    if len(received) > 1:
        return False
    sources = {(p.channel, p.peer) for p in evidence}
    if len(sources) > 1 and len({p.reporter for p in evidence}) > 1:
        return False
    return not _known(evidence, facts, min(received) if received else None)


def _known(evidence: list[PolicyDay], facts: DomainFacts, arrived: dt.date | None) -> bool:
    """A reporter of the evidence had reported the domain before, the same way."""
    if arrived is None:
        return False
    senders = {(p.reporter, p.channel, p.peer) for p in evidence if p.peer}
    return any((p.reporter, p.channel, p.peer) in senders and p.received is not None
               and p.received < arrived for p in facts.policies)


def _by_key(facts: DomainFacts) -> dict[str, PolicyDay]:
    return {p.report_key: p for p in facts.policies}


def weigh(findings: list[DomainFinding], facts: DomainFacts, lang: str = "en") -> None:
    """Mark the unconfirmed findings, cap their severity and say why, in place."""
    words = catalog.Words(lang)
    reports = _by_key(facts)
    for finding in findings:
        if not unconfirmed(finding, facts, reports):
            continue
        finding.confirmed = False
        finding.severity = capped(finding.severity)
        first = reports[finding.evidence[0].report_key]
        note = words.texts["note_unconfirmed"].format(
            reporters=", ".join(sorted({e.reporter[:100] for e in finding.evidence})[:3]),
            domain=facts.domain, day=(first.received or first.day).isoformat())
        finding.explanation = f"{finding.explanation} {note}"
