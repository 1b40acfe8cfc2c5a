"""Live checks as facts: what `tlsscope check` found, and what it says about a finding.

A report says what failed yesterday; a live check says what happens now. `corroborate` sets
a finding's `live` evidence: *confirmed* (the check sees the same failure), *contradicted*
(the host is fine now: probably fixed, or transient) or *inconclusive* (the check could not
tell). An open finding contradicted by a check made after its last report day becomes
`likely-fixed`; it turns `resolved` only when the reporters stop reporting it.

A step whose lookup got no answer (DNS timeout, refused, SERVFAIL: probe/dns.py) has the
status *inconclusive*: it is no evidence, for or against. `corroborate` leaves such steps out,
a check whose MX lookup failed says nothing about the MX set, and a check whose status is
inconclusive (nothing wrong seen, something not seen) is not the evidence at all: the store
keeps it in the history, and findings keep the latest conclusive check (store/checks_rows.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from tlsscope.analyze import catalog
from tlsscope.analyze.detectors.model import DomainFinding, LiveEvidence
from tlsscope.live_check import (
    CONFIRMED,
    CONTRADICTED,
    INCONCLUSIVE,
    OK,
    WARNING,
    LiveCheck,
)
from tlsscope.policy_text import mx_matches
from tlsscope.vocab import (
    DANE_FAILURES,
    NEGOTIATION_FAILURES,
    STS_POLICY_FAILURES,
    FindingStatus,
    ResultType,
)

# RFC 8460 §4.3 result types, by the step of a check that can see them.
_STEP_OF: dict[str, str] = {
    **dict.fromkeys(NEGOTIATION_FAILURES, "mx"), **dict.fromkeys(DANE_FAILURES, "dane"),
    **dict.fromkeys(STS_POLICY_FAILURES, "mta-sts-policy")}


def corroborate(finding: DomainFinding, checks: LiveCheck | Sequence[LiveCheck] | None,
                lang: str = "en") -> None:
    """Attach what the checks say about `finding`, and mark it likely fixed when the check,
    made after the last failing day, sees the host working.

    `checks`: one check, or the domain's checks newest first. The newest that says something
    conclusive about the finding is its evidence: a step whose lookup got no answer in the
    latest check leaves the previous check's word standing."""
    if checks is None or finding.status == FindingStatus.RESOLVED:
        return
    for check in [checks] if isinstance(checks, LiveCheck) else checks:
        judged = None if check.status == INCONCLUSIVE else _judge(finding, check)
        if judged is not None:
            break
    else:
        return
    verdict, targets, details = judged
    words = catalog.Words(lang)
    when = f"{check.checked_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    summary = words.say("live", verdict, when=when, where=finding.mx_host or finding.domain,
                         result=finding.result_type or finding.kind)
    finding.live = LiveEvidence(checked_at=check.checked_at, verdict=verdict, summary=summary,
                                targets=targets, details=details[:20])
    if verdict == CONTRADICTED and check.checked_at.date() > finding.last_seen:
        finding.status = FindingStatus.LIKELY_FIXED


def _judge(finding: DomainFinding,
           check: LiveCheck) -> tuple[str, list[str], list[str]] | None:
    if finding.kind == "mx-outside-policy":
        return _coverage(finding, check)
    step_name = _STEP_OF.get(finding.result_type)
    if step_name is None:
        return None
    host = finding.mx_host.lower().rstrip(".")
    steps = [s for s in check.steps if s.step == step_name and s.status != INCONCLUSIVE
             and (step_name == "mta-sts-policy" or not host or s.host == host)]
    if not steps:
        if host and check.mx_known and check.mx_hosts and host not in check.mx_hosts:
            return CONTRADICTED, [host], [f"{host} is no longer among the MX hosts: "
                                          f"{', '.join(check.mx_hosts)}"]
        return None
    targets = [s.target for s in steps]
    lines = [s.line for s in steps]
    wanted = ({finding.result_type} if finding.result_type != ResultType.VALIDATION_FAILURE
              else NEGOTIATION_FAILURES - {ResultType.STARTTLS_NOT_SUPPORTED})
    if any(wanted & set(s.results) for s in steps):
        return CONFIRMED, targets, [s.line for s in steps if wanted & set(s.results)]
    if all(s.status == OK or (s.status == WARNING and not s.results) for s in steps):
        return CONTRADICTED, targets, lines
    return INCONCLUSIVE, targets, lines


def _coverage(finding: DomainFinding,
              check: LiveCheck) -> tuple[str, list[str], list[str]] | None:
    if not check.mx_known:
        return None
    host = finding.mx_host.lower().rstrip(".")
    if not check.policy_mx:
        return INCONCLUSIVE, [host], ["no policy was fetched, so coverage is unknown"]
    covered = any(mx_matches(pattern, host) for pattern in check.policy_mx)
    listed = host in check.mx_hosts
    detail = (f"policy mx: {', '.join(check.policy_mx)}; live MX: "
              f"{', '.join(check.mx_hosts) or 'none'}")
    if listed and not covered:
        return CONFIRMED, [host], [detail]
    return CONTRADICTED, [host], [detail]
