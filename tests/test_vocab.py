"""The shared vocabularies (tlsscope.vocab): each result type in the groups the modules used to
spell out for themselves, the severity order, and values that stay plain strings."""

from __future__ import annotations

import json

import msgspec

from tlsscope import vocab
from tlsscope.vocab import Channel, FindingStatus, PolicyType, ResultType, Severity

CERTIFICATE = {"certificate-expired", "certificate-host-mismatch", "certificate-not-trusted"}
DANE = {"tlsa-invalid", "dnssec-invalid", "dane-required"}
STS = {"sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"}


def test_result_type_groups_are_the_ones_the_modules_defined() -> None:
    # detectors/certificates.py, dane.py, mta_sts.py; analyze/live.py's DANE_/STS_RESULTS
    assert vocab.CERTIFICATE_FAILURES == CERTIFICATE
    assert vocab.DANE_FAILURES == DANE
    assert vocab.STS_POLICY_FAILURES == STS
    # live.py's MX_RESULTS and mode_advice.py's BLOCKED_UNDER_ENFORCE
    assert vocab.NEGOTIATION_FAILURES == {"starttls-not-supported", *CERTIFICATE,
                                          "validation-failure"}
    # downgrade.py's AFTER_STARTTLS
    assert vocab.AFTER_STARTTLS == {*CERTIFICATE, "validation-failure", "tlsa-invalid"}
    # parse/validate.py's _MX_LEVEL
    assert vocab.MX_LEVEL == {"starttls-not-supported", *CERTIFICATE, "tlsa-invalid",
                              "dane-required"}


def test_every_result_type_has_a_place() -> None:
    """The detectors' groups cover every RFC 8460 result type once, apart from the two a
    detector of its own takes (starttls, validation in other_results)."""
    grouped = [*vocab.CERTIFICATE_FAILURES, *vocab.DANE_FAILURES, *vocab.STS_POLICY_FAILURES]
    assert len(grouped) == len(set(grouped))
    rest = set(ResultType) - set(grouped)
    assert rest == {ResultType.STARTTLS_NOT_SUPPORTED, ResultType.VALIDATION_FAILURE}
    for group in (vocab.NEGOTIATION_FAILURES, vocab.AFTER_STARTTLS, vocab.MX_LEVEL):
        assert group <= set(ResultType)


def test_plain_strings_find_their_members() -> None:
    """What the database and JSON give back (plain strings) compares and hashes as the member."""
    assert "tlsa-invalid" in vocab.DANE_FAILURES
    assert {"high": 1}[Severity.HIGH] == 1
    assert PolicyType("no-policy-found") is PolicyType.NO_POLICY_FOUND
    assert [c.value for c in Channel] == ["https", "smtp", "lmtp", "imap", "file", "stdin"]
    assert set(FindingStatus) == {"open", "likely-fixed", "resolved"}


def test_severity_rank_is_the_order_of_the_members() -> None:
    assert [vocab.severity_rank(s) for s in ("critical", "high", "medium", "info")] == [0, 1, 2, 3]
    assert vocab.severity_rank(Severity.CRITICAL) < vocab.severity_rank(Severity.INFO)
    assert vocab.severity_rank("bogus") > vocab.severity_rank(Severity.INFO)
    assert min("info", "high", "medium", key=vocab.severity_rank) == "high"


def test_members_encode_as_their_values() -> None:
    class One(msgspec.Struct):
        severity: Severity
        status: str
        channel: str

    one = One(Severity.CRITICAL, FindingStatus.LIKELY_FIXED, Channel.STDIN)
    encoded = b'{"severity":"critical","status":"likely-fixed","channel":"stdin"}'
    assert msgspec.json.encode(one) == encoded
    assert json.dumps([Severity.HIGH, PolicyType.STS]) == '["high", "sts"]'
    assert f"{Channel.HTTPS}:192.0.2.1" == "https:192.0.2.1"
    assert msgspec.json.decode(encoded, type=One).severity is Severity.CRITICAL
