"""DANE problems (RFC 8460 §4.3.3; RFC 7672): TLSA records that do not match, DNSSEC that does
not validate, or DANE required but unusable, per MX."""

from __future__ import annotations

from tlsscope.analyze.detectors.by_result import findings, per_mx
from tlsscope.analyze.detectors.model import DomainFinding
from tlsscope.facts import DomainFacts
from tlsscope.vocab import DANE_FAILURES


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    return findings(facts, "dane", DANE_FAILURES, per_mx, lang)
