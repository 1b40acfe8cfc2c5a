"""Possible STARTTLS downgrade or interception (a heuristic, labelled so): some reporters see
`starttls-not-supported` at an MX (RFC 8460 §4.3.1) while others, on the same days, got past
STARTTLS at that same MX: they report failures that only happen after the TLS handshake
started (certificate and DANE checks). So the MX offers STARTTLS, and something on the first
reporters' path removed it (RFC 8461 §10, RFC 3207 §6).

Reports give no success counts per MX, so a reporter that simply succeeded is no proof that it
reached this MX; only after-STARTTLS failures at the MX are taken as proof."""

from __future__ import annotations

from collections import defaultdict

from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.detectors.words import names, texts
from tlsscope.analyze.facts import DomainFacts, FailureRow

# Result types a sender can only report once the MX has offered STARTTLS (RFC 8460 §4.3.2-3).
AFTER_STARTTLS = ("certificate-host-mismatch", "certificate-expired", "certificate-not-trusted",
                  "validation-failure", "tlsa-invalid")


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    stripped: dict[str, list[FailureRow]] = defaultdict(list)
    for row in facts.failures:
        if row.result_type == "starttls-not-supported" and row.mx_host:
            stripped[row.mx_host].append(row)
    found = []
    for mx, rows in sorted(stripped.items()):
        seen_by = {row.reporter for row in rows}
        days = {row.day for row in rows}
        others = sorted({f.reporter for f in facts.failures
                         if f.mx_host == mx and f.day in days and f.reporter not in seen_by
                         and f.result_type in AFTER_STARTTLS})
        if not others:
            continue
        sessions = sum(row.sessions for row in rows)
        title, explanation, fix = texts(
            "possible-downgrade", lang, domain=facts.domain, mx=mx, sessions=sessions,
            reporters=names(sorted(seen_by), lang), others=names(others, lang))
        evidence = sorted((Evidence(report_key=r.report_key, day=r.day, reporter=r.reporter,
                                    sessions=r.sessions, receiving_ip=r.receiving_ip,
                                    sending_ip=r.sending_ip, reason_code=r.reason_code)
                           for r in rows),
                          key=lambda e: (e.day, e.reporter, e.report_key))
        found.append(DomainFinding(
            kind="possible-downgrade", severity="high", domain=facts.domain, mx_host=mx,
            receiving_ip="", result_type="starttls-not-supported",
            reporters=sorted(seen_by), first_seen=min(days), last_seen=max(days),
            sessions=sessions, status="open", title=title, explanation=explanation, fix=fix,
            evidence=evidence, heuristic=True))
    return found
