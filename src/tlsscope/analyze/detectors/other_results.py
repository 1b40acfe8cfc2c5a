"""The result types no other detector covers: `validation-failure` (RFC 8460 §4.3.4, a
general failure, often an MX outside the policy), and result types RFC 8460 does not define,
explained by the catalog's generic, honest text. Per MX."""

from __future__ import annotations

from tlsscope.analyze import catalog
from tlsscope.analyze.detectors import certificates, dane, mta_sts
from tlsscope.analyze.detectors.by_result import findings, per_mx
from tlsscope.analyze.detectors.model import DomainFinding
from tlsscope.analyze.facts import DomainFacts

COVERED = {*certificates.RESULT_TYPES, *mta_sts.RESULT_TYPES, *dane.RESULT_TYPES,
           "starttls-not-supported"}


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    known = catalog._data("entries")
    others = {row.result_type for row in facts.failures} - COVERED - {""}
    out = findings(facts, "validation", others & {"validation-failure"}, per_mx, lang)
    out += findings(facts, "unknown-result-type", {r for r in others if r not in known},
                    per_mx, lang)
    return out
