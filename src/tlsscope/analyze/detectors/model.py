"""What a detector reports about a domain (the `tlsscope findings --json` contract), and the
one way a detector makes a finding: `DomainFinding.build`, given only what it knows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import msgspec

from tlsscope.vocab import FINDING_KINDS, FindingStatus, Severity


class Evidence(msgspec.Struct, kw_only=True, frozen=True):
    """One report's figures behind a finding."""

    report_key: str
    day: dt.date
    reporter: str
    sessions: int
    receiving_ip: str = ""
    sending_ip: str = ""
    reason_code: str = ""


class LiveEvidence(msgspec.Struct, kw_only=True):
    """What the latest live check (tlsscope check) says about a finding."""

    checked_at: dt.datetime
    verdict: str  # confirmed | contradicted | inconclusive
    summary: str  # one plain-language sentence
    targets: list[str]  # the hosts, addresses or URLs checked
    details: list[str]  # what the check saw there


def evidence_order(evidence: Evidence) -> tuple[dt.date, str, str]:
    """The one order of a finding's evidence: by day, reporter and report. A sort by it is
    stable: the rows of one report keep the order they were given in."""
    return (evidence.day, evidence.reporter, evidence.report_key)


MAX_EVIDENCE = 50  # the most recent reports kept as a finding's evidence


class DomainFinding(msgspec.Struct, kw_only=True):
    kind: str
    severity: Severity
    domain: str
    mx_host: str  # "" when it is about the domain, not one MX
    receiving_ip: str
    result_type: str
    reporters: list[str]
    first_seen: dt.date
    last_seen: dt.date
    sessions: int
    status: FindingStatus
    title: str
    explanation: str
    fix: list[str]
    evidence: list[Evidence]
    heuristic: bool = False  # True: an inference from patterns, labelled so
    # True: the domain receives TLS reports (a rua address is there), so these failures may
    # be about the delivery of the reports themselves; alerts must not be driven by them.
    report_loop: bool = False
    live: LiveEvidence | None = None  # set from the latest live check (analyze/live.py)
    # False: it rests only on unauthenticated reports of a reporter new to the domain
    # (analyze/confirm.py): shown, at most medium, never alerted on.
    confirmed: bool = True
    # The other detectors (kinds) that saw the same cause, grouped into this finding
    # (detectors/grouping.py): a spike it explains, "new failing MX", "new result type"...
    also_seen_by: list[str] = msgspec.field(default_factory=list)
    # For a heuristic: the kinds of evidence the inference rests on (each said in a sentence).
    basis: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        del self.evidence[:-MAX_EVIDENCE]

    @classmethod
    def build(cls, *, kind: str, severity: Severity, domain: str, title: str,
              explanation: str, fix: list[str], evidence: Iterable[Evidence], sessions: int,
              mx_host: str = "", receiving_ip: str = "", result_type: str = "",
              status: FindingStatus = FindingStatus.OPEN, reporters: list[str] | None = None,
              first_seen: dt.date | None = None, last_seen: dt.date | None = None,
              heuristic: bool = False, basis: Iterable[str] = ()) -> DomainFinding:
        """A detector's finding. The evidence is sorted (`evidence_order`); by default the
        reporters are those of the evidence and the finding is seen from the evidence's first
        day to its last. What a detector does not give is blank: about the domain, not one MX
        (mx_host ""), no receiving IP, no result type."""
        if kind not in FINDING_KINDS:  # a detector's slip: every kind is named in the vocabulary
            raise ValueError(f"{kind!r} is not in tlsscope.vocab.FINDING_KINDS")
        ordered = sorted(evidence, key=evidence_order)
        return cls(
            kind=kind, severity=severity, domain=domain, mx_host=mx_host,
            receiving_ip=receiving_ip, result_type=result_type,
            reporters=sorted({e.reporter for e in ordered}) if reporters is None else reporters,
            first_seen=ordered[0].day if first_seen is None else first_seen,
            last_seen=ordered[-1].day if last_seen is None else last_seen,
            sessions=sessions, status=status, title=title, explanation=explanation, fix=fix,
            evidence=ordered, heuristic=heuristic, basis=sorted(basis))
