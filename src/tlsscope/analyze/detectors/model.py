"""What a detector reports about a domain (the `tlsscope findings --json` contract)."""

from __future__ import annotations

import datetime as dt

import msgspec


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


MAX_EVIDENCE = 50  # the most recent reports kept as a finding's evidence


class DomainFinding(msgspec.Struct, kw_only=True):
    kind: str
    severity: str  # critical | high | medium | info
    domain: str
    mx_host: str  # "" when it is about the domain, not one MX
    receiving_ip: str
    result_type: str
    reporters: list[str]
    first_seen: dt.date
    last_seen: dt.date
    sessions: int
    status: str  # open | likely-fixed (a live check passes now) | resolved
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
