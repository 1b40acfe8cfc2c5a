"""Certificate problems (RFC 8460 §4.3.2: certificate-expired, -host-mismatch, -not-trusted),
per receiving MX (the addresses of the failing nodes in the finding: see by_result)."""

from __future__ import annotations

from tlsscope.analyze.detectors.by_result import findings, per_mx
from tlsscope.analyze.detectors.model import DomainFinding
from tlsscope.facts import DomainFacts
from tlsscope.vocab import CERTIFICATE_FAILURES


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    return findings(facts, "certificate", CERTIFICATE_FAILURES, per_mx, lang)
