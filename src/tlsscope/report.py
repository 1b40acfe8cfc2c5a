"""The RFC 8460 report model: what a TLS-RPT report says, with no I/O.

The structs mirror the JSON of RFC 8460 §4.4 (member names are the kebab-case JSON keys), so a
well-formed report decodes straight into them. Values are normalised by the reader
(`tlsscope.parse`) before anyone else sees them: datetimes are in UTC, domains are A-labels,
`mx-host` is always a list. Derived facts (the MTA-STS mode, the TLSA records, the report's day)
are computed from the stored fields, never stored twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

import msgspec

from tlsscope.policy_text import StsPolicy, TlsaRecord, parse_sts_lines, parse_tlsa_strings
from tlsscope.vocab import PolicyType, ResultType

COUNT_MAX = 2**63 - 1
"""The largest session count (and sum of a report's counts): what a 64-bit database integer
holds. The reader refuses larger ones, naming the field, rather than store them clamped."""
Count = Annotated[int, msgspec.Meta(ge=0, le=COUNT_MAX)]


KNOWN_POLICY_TYPES = frozenset(t.value for t in PolicyType)
# Policy types that may describe the same sessions twice: a sender that validates both DANE
# and MTA-STS (Microsoft) lists each session under its sts and its tlsa policy.
VIEWS = frozenset((PolicyType.STS.value, PolicyType.TLSA.value))
KNOWN_RESULT_TYPES = frozenset(t.value for t in ResultType)


class _Wire(
    msgspec.Struct, rename="kebab", kw_only=True, forbid_unknown_fields=True, gc=False
):
    """Base: JSON keys are the kebab-case field names; unknown members are kept by the reader.

    `gc=False`: these objects hold only strings, numbers and lists of each other, never a
    cycle, so the garbage collector need not track them (faster on reports with many rows).
    """


class DateRange(_Wire):
    start_datetime: dt.datetime
    end_datetime: dt.datetime


class Policy(_Wire):
    """The `policy` object of one `policies[]` entry (RFC 8460 §4.4)."""

    policy_type: str
    policy_string: list[str] | None = None
    policy_domain: str | None = None
    mx_host: list[str] | None = None

    @property
    def sts(self) -> StsPolicy | None:
        """The MTA-STS policy (RFC 8461 §3.2) read from `policy-string`, for sts policies."""
        if self.policy_type != PolicyType.STS or not self.policy_string:
            return None
        return parse_sts_lines(tuple(self.policy_string))

    @property
    def tlsa_records(self) -> tuple[TlsaRecord, ...]:
        """The individual TLSA records of a tlsa policy (RFC 8460 §4.5)."""
        if self.policy_type != PolicyType.TLSA or not self.policy_string:
            return ()
        return parse_tlsa_strings(tuple(self.policy_string)).records


class Summary(_Wire):
    total_successful_session_count: Count
    total_failure_session_count: Count


class FailureDetail(_Wire):
    """One `failure-details[]` row (RFC 8460 §4.4). Absent and `null` members are both None."""

    result_type: str | None = None
    failed_session_count: Count | None = None
    sending_mta_ip: str | None = None
    receiving_mx_hostname: str | None = None
    receiving_mx_helo: str | None = None
    receiving_ip: str | None = None
    additional_information: str | None = None
    failure_reason_code: str | None = None

    @property
    def sessions(self) -> int:
        return self.failed_session_count or 0


class PolicyResult(_Wire):
    """One entry of `policies[]`: the applied policy, its totals and its failure rows."""

    policy: Policy
    summary: Summary
    failure_details: list[FailureDetail] | None = None

    @property
    def details(self) -> list[FailureDetail]:
        return self.failure_details or []


class Report(_Wire):
    """A whole RFC 8460 report."""

    organization_name: str
    date_range: DateRange
    report_id: str
    policies: list[PolicyResult]
    contact_info: str | None = None

    @property
    def start(self) -> dt.datetime:
        return self.date_range.start_datetime

    @property
    def end(self) -> dt.datetime:
        return self.date_range.end_datetime

    @property
    def day(self) -> dt.date:
        """The UTC day a report is counted on: the UTC date of its start (RFC 8460 §4.1).

        This holds for windows ending at the next day's 00:00 (Mail.ru, Stalwart) and for
        24-hour windows that are not aligned to midnight.
        """
        return self.date_range.start_datetime.astimezone(dt.UTC).date()

    @property
    def key(self) -> tuple[str, str]:
        """What identifies a report: report-id is only unique per organisation (§4.4)."""
        return (self.organization_name, self.report_id)

    def counted_policies(self) -> list[bool]:
        """Which policies[] entries count toward their domain's totals (see `counted`)."""
        return counted([((entry.policy.policy_domain or "").lower(), entry.policy.policy_type,
                         entry.summary.total_successful_session_count
                         + entry.summary.total_failure_session_count)
                        for entry in self.policies])

    def domain_totals(self) -> dict[str, tuple[int, int]]:
        """(successful, failed) sessions per policy domain, without double counting."""
        totals: dict[str, tuple[int, int]] = {}
        for entry, counted in zip(self.policies, self.counted_policies(), strict=True):
            if counted:
                domain = (entry.policy.policy_domain or "").lower()
                ok, failed = totals.get(domain, (0, 0))
                totals[domain] = (ok + entry.summary.total_successful_session_count,
                                  failed + entry.summary.total_failure_session_count)
        return totals


def counted(entries: Sequence[tuple[str, str, int]]) -> list[bool]:
    """The one counting rule: which of a report's policies count toward their domain.

    `entries` are (policy domain, policy type, sessions) in `policies[]` order. Sessions under
    different policies are different sessions: every no-policy-found entry counts, and so does
    every entry of an unknown type; several sts entries of one domain (the policy changed during
    the day) all count. The exception is a domain given under both an sts and a tlsa policy in
    one report: those are two views of the same sessions (RFC 8460 §4.4 lets a sender report
    each policy it applied), so only one type counts, the one with more sessions; on a tie
    (the usual case) sts, whose policy-string quotes the mode. docs/store.md has examples.
    """
    sums: dict[tuple[str, str], int] = {}
    for domain, kind, sessions in entries:
        if kind in VIEWS:
            sums[(domain, kind)] = sums.get((domain, kind), 0) + sessions
    dropped: set[tuple[str, str]] = set()
    for (domain, kind), sessions in sums.items():
        other = PolicyType.TLSA.value if kind == PolicyType.STS.value else PolicyType.STS.value
        rival = sums.get((domain, other))
        if rival is not None and (rival > sessions or (rival == sessions
                                                       and other == PolicyType.STS.value)):
            dropped.add((domain, kind))
    return [(domain, kind) not in dropped for domain, kind, _ in entries]
