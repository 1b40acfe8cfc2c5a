"""DomainFinding.build (analyze/detectors/model.py): the one way a detector makes a finding.
Pure: evidence written by hand."""

from __future__ import annotations

import datetime as dt

import msgspec

from tlsscope.analyze.detectors.model import (
    MAX_EVIDENCE,
    DomainFinding,
    Evidence,
    evidence_order,
)
from tlsscope.vocab import FindingStatus, Severity

DAY = dt.date(2026, 5, 10)


def ev(days: int, reporter: str, key: str, ip: str = "", sessions: int = 1) -> Evidence:
    return Evidence(report_key=key, day=DAY + dt.timedelta(days=days), reporter=reporter,
                    sessions=sessions, receiving_ip=ip)


def test_blank_fields_and_defaults_from_the_evidence() -> None:
    evidence = [ev(2, "Mail.ru", "k3"), ev(0, "Microsoft", "k2"), ev(0, "Google", "k1")]
    found = DomainFinding.build(kind="reporter-silent", severity=Severity.INFO,
                                domain="example.com", title="t", explanation="e", fix=["f"],
                                evidence=evidence, sessions=0)
    assert (found.mx_host, found.receiving_ip, found.result_type) == ("", "", "")
    assert found.status == FindingStatus.OPEN
    assert found.reporters == ["Google", "Mail.ru", "Microsoft"]
    assert (found.first_seen, found.last_seen) == (DAY, DAY + dt.timedelta(days=2))
    assert [e.report_key for e in found.evidence] == ["k1", "k2", "k3"]
    assert not found.heuristic and found.basis == [] and found.also_seen_by == []
    assert found.confirmed and not found.report_loop and found.live is None


def test_the_same_bytes_as_the_finding_spelled_out() -> None:
    """Stored and served as JSON: building changes nothing of the encoding."""
    evidence = [ev(1, "Google", "k2", "192.0.2.1"), ev(0, "Google", "k1")]
    built = DomainFinding.build(
        kind="possible-downgrade", severity=Severity.HIGH, domain="example.com",
        mx_host="mx.example.com", result_type="starttls-not-supported", title="t",
        explanation="e", fix=[], evidence=evidence, sessions=7, heuristic=True,
        basis={"only-mx-seen", "after-starttls"})
    spelled = DomainFinding(
        kind="possible-downgrade", severity=Severity.HIGH, domain="example.com",
        mx_host="mx.example.com", receiving_ip="", result_type="starttls-not-supported",
        reporters=["Google"], first_seen=DAY, last_seen=DAY + dt.timedelta(days=1), sessions=7,
        status=FindingStatus.OPEN, title="t", explanation="e", fix=[],
        evidence=sorted(evidence, key=lambda e: e.day), heuristic=True,
        basis=["after-starttls", "only-mx-seen"])
    encoded = msgspec.json.encode(built)
    assert encoded == msgspec.json.encode(spelled)
    assert encoded.startswith(b'{"kind":"possible-downgrade","severity":"high",')
    assert b',"status":"open",' in encoded
    back = msgspec.json.decode(encoded, type=DomainFinding)
    assert back.severity is Severity.HIGH and back.status is FindingStatus.OPEN
    assert back == built


def test_what_a_detector_knows_better_wins() -> None:
    found = DomainFinding.build(
        kind="failure-spike", severity=Severity.HIGH, domain="example.com", title="t",
        explanation="e", fix=[], evidence=[ev(3, "Google", "k1")], sessions=12,
        status=FindingStatus.RESOLVED, reporters=["Google", "Yahoo"], first_seen=DAY,
        last_seen=DAY + dt.timedelta(days=5))
    assert found.status == "resolved"
    assert found.reporters == ["Google", "Yahoo"]
    assert (found.first_seen, found.last_seen) == (DAY, DAY + dt.timedelta(days=5))


def test_one_sort_key_stable_within_a_report() -> None:
    """By day, reporter, report; the rows of one report (one per receiving IP) keep their
    order."""
    evidence = [ev(1, "Yahoo", "k9"), ev(1, "Google", "k5", "192.0.2.9"),
                ev(1, "Google", "k5", "192.0.2.1"), ev(1, "Google", "k4"), ev(0, "Yahoo", "k1")]
    found = DomainFinding.build(kind="certificate", severity=Severity.CRITICAL,
                                domain="example.com", title="t", explanation="e", fix=[],
                                evidence=evidence, sessions=5)
    assert [(e.reporter, e.report_key, e.receiving_ip) for e in found.evidence] == [
        ("Yahoo", "k1", ""), ("Google", "k4", ""), ("Google", "k5", "192.0.2.9"),
        ("Google", "k5", "192.0.2.1"), ("Yahoo", "k9", "")]
    assert found.evidence == sorted(found.evidence, key=evidence_order)


def test_the_most_recent_evidence_is_kept() -> None:
    evidence = [ev(day, "Google", f"k{day:03}") for day in reversed(range(MAX_EVIDENCE + 10))]
    found = DomainFinding.build(kind="dane", severity=Severity.HIGH, domain="example.com",
                                title="t", explanation="e", fix=[], evidence=evidence,
                                sessions=60)
    assert len(found.evidence) == MAX_EVIDENCE
    assert found.evidence[0].report_key == "k010"
    assert (found.first_seen, found.last_seen) == (DAY, DAY + dt.timedelta(days=59))
