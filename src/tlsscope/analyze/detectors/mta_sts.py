"""MTA-STS policy problems (RFC 8460 §4.3.4; RFC 8461 §3.3): the policy could not be fetched,
was invalid, or its HTTPS host's certificate failed. About the domain, not one MX."""

from __future__ import annotations

from tlsscope.analyze.detectors.by_result import findings, per_domain
from tlsscope.analyze.detectors.model import DomainFinding
from tlsscope.facts import DomainFacts
from tlsscope.vocab import STS_POLICY_FAILURES


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    return findings(facts, "mta-sts-policy", STS_POLICY_FAILURES, per_domain, lang)
