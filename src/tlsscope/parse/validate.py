"""Checks run on every decoded report, whichever path decoded it: warnings, never rejections.

They normalise values in place (UTC date-times, A-label domains, canonical IPv6) and keep the
original text in `originals` under its JSON path, so nothing the sender wrote is lost.
"""

from __future__ import annotations

import datetime as dt

from tlsscope.parse.lenient import Collector
from tlsscope.parse.values import check_domain, check_ip
from tlsscope.policy_text import parse_sts_lines, parse_tlsa_strings
from tlsscope.report import (
    KNOWN_POLICY_TYPES,
    KNOWN_RESULT_TYPES,
    FailureDetail,
    Policy,
    PolicyResult,
    PolicyType,
    Report,
    ResultType,
)

# Result types that describe a connection to an MX, so the row should say which MX.
_MX_LEVEL = frozenset({
    ResultType.STARTTLS_NOT_SUPPORTED, ResultType.CERTIFICATE_HOST_MISMATCH,
    ResultType.CERTIFICATE_EXPIRED, ResultType.CERTIFICATE_NOT_TRUSTED,
    ResultType.TLSA_INVALID, ResultType.DANE_REQUIRED,
})
# Draft-era result type names (mrisher/smtp-sts history) and the RFC 8460 value they became.
_DRAFT_RESULT_TYPES = {
    "sts-invalid": "sts-policy-invalid", "webpki-invalid": "sts-webpki-invalid",
    "expired-certificate": "certificate-expired", "invalid-certificate": "certificate-not-trusted",
    "certificate-mismatch": "certificate-host-mismatch",
}
_DAY = dt.timedelta(days=1)
_IJSON_MAX = 2**53 - 1


def validate(report: Report, c: Collector) -> None:
    _dates(report, c)
    if not report.contact_info:
        c.warn("missing_contact_info", "contact-info is missing or null", "$.contact-info")
    if not report.report_id.strip():
        c.warn("empty_report_id", "report-id is empty; duplicates cannot be recognised",
               "$.report-id")
    if not report.policies:
        c.warn("no_policies", "the report lists no policies", "$.policies")
    for i, entry in enumerate(report.policies):
        _entry(entry, f"$.policies[{i}]", c)
    _overlap(report, c)


def _dates(report: Report, c: Collector) -> None:
    span = report.date_range
    for name in ("start_datetime", "end_datetime"):
        value: dt.datetime = getattr(span, name)
        path = f"$.date-range.{name.replace('_', '-')}"
        if value.tzinfo is None:
            c.warn("date_format", f"{value.isoformat()!r} has no time zone; read as UTC", path)
            setattr(span, name, value.replace(tzinfo=dt.UTC))
        elif value.utcoffset():
            c.originals.setdefault(path, value.isoformat())
            setattr(span, name, value.astimezone(dt.UTC))
    start, end = span.start_datetime, span.end_datetime
    if end < start:
        c.warn("end_before_start", f"the date range ends ({end}) before it starts ({start})",
               "$.date-range")
    elif end - start > _DAY + dt.timedelta(hours=1):
        c.warn("long_date_range", f"the date range spans {end - start}, more than one day "
               "(RFC 8460 §4.1)", "$.date-range")


def _entry(entry: PolicyResult, path: str, c: Collector) -> None:
    policy = entry.policy
    _policy(policy, f"{path}.policy", c)
    details = entry.details
    total = 0
    for j, row in enumerate(details):
        total += _detail(row, f"{path}.failure-details[{j}]", c)
    reported = entry.summary.total_failure_session_count
    if max(reported, entry.summary.total_successful_session_count) > _IJSON_MAX:
        c.warn("count_beyond_ijson", "a session count is above 2^53-1, beyond what I-JSON "
               "guarantees (RFC 7493 §2.2); kept exactly", f"{path}.summary")
    if details and total != reported:
        c.warn("failure_sum_mismatch", f"failure-details add up to {total} sessions but "
               f"total-failure-session-count is {reported}", f"{path}.summary")
    elif reported and entry.failure_details is None:
        c.warn("missing_failure_details", f"{reported} failed sessions but no failure-details",
               path)


def _policy(policy: Policy, path: str, c: Collector) -> None:
    kind = policy.policy_type
    if kind not in KNOWN_POLICY_TYPES:
        c.warn("unknown_policy_type", f"unknown policy-type {kind!r} kept as is",
               f"{path}.policy-type")
    if policy.policy_domain is None:
        c.warn("missing_policy_domain", "policy-domain is missing", f"{path}.policy-domain")
    else:
        policy.policy_domain = _domain(policy.policy_domain, f"{path}.policy-domain", c)
    if policy.mx_host is not None:
        policy.mx_host = [_mx_host(h, f"{path}.mx-host[{k}]", c)
                          for k, h in enumerate(policy.mx_host)]
    strings = policy.policy_string
    if not strings:
        return
    if kind == PolicyType.STS:
        sts = parse_sts_lines(tuple(strings))
        for code, message in sts.problems:
            c.warn(code, message, f"{path}.policy-string")
        if policy.mx_host and {h.lower() for h in policy.mx_host} != set(sts.mx_patterns):
            c.warn("mx_host_differs", f"mx-host {policy.mx_host} differs from the policy's mx "
                   f"lines {list(sts.mx_patterns)}", f"{path}.mx-host")
    elif kind == PolicyType.TLSA:
        for code, message in parse_tlsa_strings(tuple(strings)).problems:
            c.warn(code, message, f"{path}.policy-string")


def _mx_host(host: str, path: str, c: Collector) -> str:
    if host.lower().startswith("mx:"):
        c.warn("mx_host_prefix", f"mx-host entry {host!r} carries a policy 'mx:' prefix", path)
        c.originals[path] = host
        host = host[3:].strip()
    return _domain(host.removeprefix("*."), path, c, wildcard=host.startswith("*."))


def _domain(name: str, path: str, c: Collector, wildcard: bool = False) -> str:
    checked = check_domain(name)
    if checked.problem is not None:
        if checked.value != name:
            c.originals.setdefault(path, f"*.{name}" if wildcard else name)
        c.warn("domain_name", checked.problem, path)
    return f"*.{checked.value}" if wildcard else checked.value


def _detail(row: FailureDetail, path: str, c: Collector) -> int:
    kind = row.result_type
    if kind is None:
        c.warn("missing_result_type", "result-type is missing", f"{path}.result-type")
    elif kind not in KNOWN_RESULT_TYPES:
        hint = _DRAFT_RESULT_TYPES.get(kind)
        note = f" (a draft-era name for {hint!r})" if hint else ""
        c.warn("unknown_result_type", f"unknown result-type {kind!r}{note} kept as is and "
               "counted as a failure", f"{path}.result-type")
    if row.failed_session_count is None:
        c.warn("missing_count", "failed-session-count is missing", f"{path}.failed-session-count")
    for name in ("sending_mta_ip", "receiving_ip"):
        value = getattr(row, name)
        if value is not None:
            checked = check_ip(value)
            if checked.problem is not None:
                where = f"{path}.{name.replace('_', '-')}"
                if checked.value != value:
                    c.originals[where] = value
                    setattr(row, name, checked.value)
                c.warn("ip_address", checked.problem, where)
    if row.receiving_mx_hostname is not None:
        row.receiving_mx_hostname = _domain(
            row.receiving_mx_hostname, f"{path}.receiving-mx-hostname", c)
    elif kind in _MX_LEVEL:
        c.warn("missing_mx_hostname", f"a {kind} row does not say which MX",
               f"{path}.receiving-mx-hostname")
    return row.failed_session_count or 0


def _overlap(report: Report, c: Collector) -> None:
    """Microsoft lists the same sessions under sts and tlsa of one domain (quirks doc §2.6)."""
    types: dict[str, set[str]] = {}
    for entry in report.policies:
        domain = (entry.policy.policy_domain or "").lower()
        types.setdefault(domain, set()).add(entry.policy.policy_type)
    for domain, kinds in types.items():
        if {PolicyType.STS, PolicyType.TLSA} <= kinds:
            c.warn("sts_tlsa_overlap", f"sts and tlsa policies both report sessions for "
                   f"{domain or 'an unnamed domain'}; they are counted once for the domain",
                   "$.policies")

