"""The shared vocabularies: one definition of each word the layers exchange, as `StrEnum`s.

Every layer may import this module (it is the lowest of the import contract) and it imports
nothing of tlsscope. The members are strings (`Severity.HIGH == "high"`), so what is stored,
encoded (msgspec and json write a member as its value) and compared stays the plain word, and
a value read back from the database or from JSON compares equal to its member.

    PolicyType, ResultType       RFC 8460 §4.3 and §4.4, with the groups of result types
    Severity, severity_rank      how much a domain finding matters, most severe first
    FindingStatus                open, likely-fixed (a live check passes now), resolved
    Channel                      how an input came: https, smtp, lmtp, imap, file, stdin

On Python 3.11 looking a member up (`PolicyType.STS`) costs about six times a global name
(the enum metaclass has a `__getattr__`, so every class attribute goes through it), and a str
compared with a member misses the interpreter's fast path for two plain strings. A loop over
many rows (a big domain's facts, a report's policies) therefore compares with the member's
value bound once to a module name, `_STS = PolicyType.STS.value`.
"""

from __future__ import annotations

import enum

# The largest id a stored row can have (SQLite's INTEGER, PostgreSQL's BIGINT): an id past it
# names no row, and is refused at the edge (a 422, a usage error) before any query.
MAX_ROW_ID = 2**63 - 1


class PolicyType(enum.StrEnum):
    """RFC 8460 §4.4 `policy-type` values."""

    STS = "sts"
    TLSA = "tlsa"
    NO_POLICY_FOUND = "no-policy-found"


class ResultType(enum.StrEnum):
    """RFC 8460 §4.3 result types (the IANA "STARTTLS Validation Result Types", §6.6)."""

    STARTTLS_NOT_SUPPORTED = "starttls-not-supported"  # §4.3.1
    CERTIFICATE_HOST_MISMATCH = "certificate-host-mismatch"  # §4.3.1
    CERTIFICATE_EXPIRED = "certificate-expired"  # §4.3.1
    CERTIFICATE_NOT_TRUSTED = "certificate-not-trusted"  # §4.3.1
    VALIDATION_FAILURE = "validation-failure"  # §4.3.1, §4.3.3
    TLSA_INVALID = "tlsa-invalid"  # §4.3.2.1
    DNSSEC_INVALID = "dnssec-invalid"  # §4.3.2.1
    DANE_REQUIRED = "dane-required"  # §4.3.2.1
    STS_POLICY_FETCH_ERROR = "sts-policy-fetch-error"  # §4.3.2.2
    STS_POLICY_INVALID = "sts-policy-invalid"  # §4.3.2.2
    STS_WEBPKI_INVALID = "sts-webpki-invalid"  # §4.3.2.2


# The groups of result types, each defined here once (tests/test_vocab.py).
CERTIFICATE_FAILURES = frozenset({
    ResultType.CERTIFICATE_EXPIRED, ResultType.CERTIFICATE_HOST_MISMATCH,
    ResultType.CERTIFICATE_NOT_TRUSTED})
"""The MX's certificate failed (§4.3.1): the certificate detector's."""
NEGOTIATION_FAILURES = frozenset({
    ResultType.STARTTLS_NOT_SUPPORTED, *CERTIFICATE_FAILURES, ResultType.VALIDATION_FAILURE})
"""The TLS negotiation with the MX failed (§4.3.1): what an enforcing MTA-STS sender refuses
(RFC 8461 §5; a policy it cannot fetch or read means no policy, not a refusal), and what the
live check's mx step can see."""
DANE_FAILURES = frozenset({
    ResultType.TLSA_INVALID, ResultType.DNSSEC_INVALID, ResultType.DANE_REQUIRED})
"""DANE (TLSA, DNSSEC) policy failures (§4.3.2.1; RFC 7672)."""
STS_POLICY_FAILURES = frozenset({
    ResultType.STS_POLICY_FETCH_ERROR, ResultType.STS_POLICY_INVALID,
    ResultType.STS_WEBPKI_INVALID})
"""MTA-STS policy failures (§4.3.2.2; RFC 8461 §3.3): about the domain, not one MX."""
AFTER_STARTTLS = frozenset({
    *CERTIFICATE_FAILURES, ResultType.VALIDATION_FAILURE, ResultType.TLSA_INVALID})
"""What a sender can only report once the MX has offered STARTTLS (the handshake started)."""
MX_LEVEL = frozenset({
    ResultType.STARTTLS_NOT_SUPPORTED, *CERTIFICATE_FAILURES, ResultType.TLSA_INVALID,
    ResultType.DANE_REQUIRED})
"""What describes a connection to one MX, so a failure row of it should say which MX."""


# Every kind of finding the detectors make (docs/cli.md lists what each means); an alert rule
# narrowed to kinds takes these and the live checks' warning kinds (CHECK_WARNING_KINDS).
FINDING_KINDS = (
    "certificate", "mta-sts-policy", "starttls", "dane", "validation", "unknown-result-type",
    "possible-downgrade", "mx-outside-policy", "testing-would-block", "ready-for-enforce",
    "no-policy", "reporter-disagreement", "failure-spike", "new-result-type", "new-failing-mx",
    "new-reporter", "reporter-silent")
CHECK_WARNING_KINDS = ("certificate-expiry", "policy-id-unchanged", "mx-outside-policy")


class Severity(enum.StrEnum):
    """How much a domain finding matters. The order of the members is the rank: most severe
    first (`severity_rank`)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    INFO = "info"


_RANK: dict[str, int] = {severity: rank for rank, severity in enumerate(Severity)}


def severity_rank(severity: str) -> int:
    """0 for critical, then up to info; a value outside `Severity` ranks after them all.
    Takes a plain string too (a value read back from the database or from JSON)."""
    return _RANK.get(severity, len(_RANK))


class FindingStatus(enum.StrEnum):
    """Where a domain finding stands."""

    OPEN = "open"
    LIKELY_FIXED = "likely-fixed"
    """Still open in the reports, but a live check made since sees the host working."""
    RESOLVED = "resolved"
    """Every reporter that saw it has sent later reports without it (or it is no longer
    detected at all)."""


class Channel(enum.StrEnum):
    """How an input came (the report's provenance, `reports.channel`)."""

    HTTPS = "https"  # POSTed (RFC 8460 §5.4): never authenticated (§7)
    SMTP = "smtp"
    LMTP = "lmtp"
    IMAP = "imap"
    FILE = "file"  # given by the operator
    STDIN = "stdin"  # given by the operator (an MTA pipe, `ingest -`)


OPERATOR_CHANNELS = frozenset({Channel.FILE, Channel.STDIN})
"""Inputs the operator gave: they count as authenticated."""
PEER_CHANNELS = frozenset({Channel.HTTPS, Channel.SMTP, Channel.LMTP})
"""Inputs that name the address that submitted them (the HTTPS client, the SMTP/LMTP peer)."""
