"""The result types no other detector covers: `validation-failure` (RFC 8460 §4.3.4, a
general failure, often an MX outside the policy), and result types RFC 8460 does not define,
explained by the catalog's generic, honest text. Per MX."""

from __future__ import annotations

from tlsscope.analyze import catalog
from tlsscope.analyze.detectors.by_result import findings, per_mx
from tlsscope.analyze.detectors.model import DomainFinding
from tlsscope.facts import DomainFacts
from tlsscope.vocab import (
    CERTIFICATE_FAILURES,
    DANE_FAILURES,
    STS_POLICY_FAILURES,
    ResultType,
)

# The result types with a detector of their own (certificates, mta_sts, dane, starttls).
COVERED = frozenset({*CERTIFICATE_FAILURES, *STS_POLICY_FAILURES, *DANE_FAILURES,
                     ResultType.STARTTLS_NOT_SUPPORTED})


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    known = catalog._data("entries")
    others = {row.result_type for row in facts.failures} - COVERED - {""}
    out = findings(facts, "validation", others & {ResultType.VALIDATION_FAILURE}, per_mx, lang)
    out += findings(facts, "unknown-result-type", {r for r in others if r not in known},
                    per_mx, lang)
    return out
