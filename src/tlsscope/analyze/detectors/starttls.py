"""`starttls-not-supported` per MX (RFC 8460 §4.3.1): the MX did not offer STARTTLS, or the
offer was removed on the way (the downgrade heuristic is a separate detector, still to come)."""

from __future__ import annotations

from tlsscope.analyze.detectors.by_result import findings, per_mx
from tlsscope.analyze.detectors.model import DomainFinding
from tlsscope.facts import DomainFacts
from tlsscope.vocab import ResultType


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    return findings(facts, "starttls", (ResultType.STARTTLS_NOT_SUPPORTED,), per_mx, lang)
