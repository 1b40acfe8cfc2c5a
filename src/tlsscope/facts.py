"""The stored facts the analyses read: per-day totals, breakdowns, failure groups.

The store returns these (see `tlsscope.store.queries`); the analyses take them as plain data,
never a database session, so they stay pure and fast to test.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from tlsscope.vocab import Channel


class DayTotal(msgspec.Struct, kw_only=True):
    day: dt.date
    reports: int
    successful: int
    failed: int


class Breakdown(msgspec.Struct, kw_only=True):
    """One row of a breakdown: a name (a policy, an MX, a reporter, a result type) and sums."""

    name: str
    successful: int | None  # None where reports give no success counts (per MX, per result)
    failed: int
    reports: int | None = None


class DomainStats(msgspec.Struct, kw_only=True):
    domain: str | None  # None: every domain
    since: dt.date
    until: dt.date
    successful: int
    failed: int
    reports: int
    days: list[DayTotal]
    by_policy: list[Breakdown]
    by_reporter: list[Breakdown]
    by_result_type: list[Breakdown]
    by_mx: list[Breakdown]


class FailureGroup(msgspec.Struct, kw_only=True):
    """Failed sessions of one result type at one receiving MX, over every reporter.

    When a report gives the same sessions under both an sts and a tlsa policy (RFC 8460 §4.4),
    they count once (the report's counted policy); `policy_types` says which policies the
    failures were under. `reporters` is filled for the largest groups only (the store's
    REPORTER_GROUPS), as naming thousands of reporters says nothing.
    """

    result_type: str
    mx_host: str  # "" when the reports did not name it
    reporters: list[str]
    policy_types: list[str]
    sessions: int
    first_day: dt.date
    last_day: dt.date


class PolicyDay(msgspec.Struct, kw_only=True, frozen=True):
    """One policy of one stored report about a domain: who reported which day, and totals."""

    report_key: str
    reporter: str
    day: dt.date
    policy_type: str
    mode: str  # "" when the report did not quote it
    successful: int
    failed: int
    counted: bool  # False: the same sessions as another policy of the report
    mx_patterns: tuple[str, ...] = ()  # sts: the policy's mx lines (RFC 8461 §3.2)
    policy_idx: int = 0  # the policy's place in its report's policies[] (RFC 8460 §4.4)
    # The report's provenance (store: reports.authenticated, channel, peer, stored_at):
    # authenticated when ingested by the operator or mailed with a passing aligned DKIM
    # signature (never over HTTPS, RFC 8460 §7); how it came, from which address, which day.
    authenticated: bool = True
    channel: str = Channel.FILE
    peer: str = ""
    received: dt.date | None = None


class FailureRow(msgspec.Struct, kw_only=True, frozen=True):
    """One failure-details row (RFC 8460 §4.4) of a stored report about a domain."""

    report_key: str
    reporter: str
    day: dt.date
    policy_type: str
    mode: str
    result_type: str
    sessions: int
    mx_host: str  # "" when absent
    receiving_ip: str
    sending_ip: str
    reason_code: str
    counted: bool
    helo: str = ""
    policy_idx: int = 0  # the place in its report's policies[] of the policy it is under


class DomainFacts(msgspec.Struct, kw_only=True):
    """Everything the detectors read about one domain over a window of days."""

    domain: str
    since: dt.date
    until: dt.date
    policies: list[PolicyDay]
    failures: list[FailureRow]
