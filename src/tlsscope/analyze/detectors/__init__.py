"""Detectors: one module per problem, each a pure function over a domain's stored facts.

    detect(facts, lang="en") → [DomainFinding, ...]

Every finding names its kind, severity, domain and (where it applies) MX and IP, when it was
first and last seen, the sessions affected, the reporters that saw it, the evidence (report
keys and the figures taken from them), the catalog's explanation and fix, and a status: open,
or resolved when every reporter that saw it has sent later reports without it. The findings of
one cause are then grouped into one (grouping.py), so that the list has one per problem.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection

from tlsscope.analyze import catalog
from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.facts import DomainFacts
from tlsscope.vocab import FindingStatus, severity_rank

__all__ = ["DomainFinding", "Evidence", "detect", "detectors"]

Detector = Callable[[DomainFacts, str], list[DomainFinding]]


@functools.cache
def detectors() -> tuple[Detector, ...]:
    """Every detector, in the order their findings are listed. Imported on first use: the
    model above is all that storing a report needs (an `ingest -` from an MTA pipe)."""
    from tlsscope.analyze.detectors import (
        certificates,
        dane,
        disagreement,
        downgrade,
        mode_advice,
        mta_sts,
        mx_outside_policy,
        novelty,
        other_results,
        silent_reporter,
        spike,
        starttls,
    )

    return (certificates.detect, mta_sts.detect, starttls.detect, downgrade.detect,
            dane.detect, mx_outside_policy.detect, mode_advice.detect, silent_reporter.detect,
            disagreement.detect, spike.detect, novelty.detect, other_results.detect)


def detect(facts: DomainFacts, lang: str = "en",
           report_domains: Collection[str] = ()) -> list[DomainFinding]:
    """`report_domains`: the domains of the addresses reports are sent to (rua). Failures
    there may be about the delivery of reports (RFC 8460 §3: a reporter should not count the
    session that delivered its report, but some do): such findings are marked `report_loop`."""
    from tlsscope.analyze.detectors import grouping

    found = grouping.group([finding for detector in detectors()
                            for finding in detector(facts, lang)], facts, lang)
    if facts.domain in {d.lower().rstrip(".") for d in report_domains}:
        note = catalog.Words(lang).texts["note_report_loop"]
        for finding in found:
            finding.report_loop = True
            finding.explanation = f"{finding.explanation} {note}"
    return sorted(found, key=lambda f: (f.status != FindingStatus.OPEN, severity_rank(f.severity),
                                        -f.sessions, f.kind, f.mx_host, f.receiving_ip))
