"""Checks run on every decoded report, whichever path decoded it: warnings, never rejections.

They normalise values in place (UTC date-times, A-label domains, canonical IPv6) and keep the
original text in `originals` under its JSON path, so nothing the sender wrote is lost.

This runs for every report and every failure row, so it is written as a fast screen with a
slow explanation: cheap membership tests pass the common, clean case; anything that fails
them goes to a function that works out exactly what is wrong and where. Values seen clean once
(IPs, host names, whole policy blocks) are remembered, in bounded caches.
"""

from __future__ import annotations

import datetime as dt

from tlsscope.parse.lengths import check_lengths
from tlsscope.parse.lenient import Collector
from tlsscope.parse.values import (
    check_domain,
    check_ip,
    policy_domain_problem,
    shown,
)
from tlsscope.policy_text import parse_sts_lines, parse_tlsa_strings
from tlsscope.report import (
    COUNT_MAX,
    KNOWN_POLICY_TYPES,
    KNOWN_RESULT_TYPES,
    VIEWS,
    FailureDetail,
    Policy,
    PolicyResult,
    Report,
)
from tlsscope.vocab import MX_LEVEL, PolicyType, ResultType

# Draft-era result type names (mrisher/smtp-sts history) and the RFC 8460 value they became.
_DRAFT_RESULT_TYPES = {
    "sts-invalid": ResultType.STS_POLICY_INVALID, "webpki-invalid": ResultType.STS_WEBPKI_INVALID,
    "expired-certificate": ResultType.CERTIFICATE_EXPIRED,
    "invalid-certificate": ResultType.CERTIFICATE_NOT_TRUSTED,
    "certificate-mismatch": ResultType.CERTIFICATE_HOST_MISMATCH,
}
_UTC = dt.UTC
# Bound once for the loops over rows (see tlsscope.vocab).
_STS, _TLSA = PolicyType.STS.value, PolicyType.TLSA.value
_LONGEST = dt.timedelta(days=1, hours=1)
_SKEW = dt.timedelta(hours=26)  # time zones and clocks: a start this far ahead still passes
_IJSON_MAX = 2**53 - 1
_CACHE_LIMIT = 100_000

# None is "clean" too: an absent IP or host is judged by the row's other fields.
_clean_ips: set[str | None] = {None}
_clean_hosts: set[str | None] = {None}
# Policy blocks seen before, by policy domain. Lookups compare the lists by equality (a memcmp
# per string) rather than hashing them: the strings are new objects in every decoded report.
_PolicySeen = tuple[str, list[str] | None, list[str] | None, "_PolicyVerdict"]
_policy_memo: dict[str | None, list[_PolicySeen]] = {}


class _PolicyVerdict:
    """What checking one policy block found: its normalised values and its warnings."""

    __slots__ = ("domain", "invalid", "key_domain", "kind", "mx_host", "originals", "warnings")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.key_domain = ""  # the normalised policy domain, lower case, for the overlap check
        self.domain: str | None = None
        self.invalid: str | None = None  # why policy-domain is not a domain name: rejected
        self.mx_host: list[str] | None = None
        self.warnings: list[tuple[str, str, str]] = []  # code, message, path under .policy
        self.originals: list[tuple[str, str]] = []


def validate(report: Report, c: Collector) -> None:
    check_lengths(report, c)
    if c.errors:  # a string past max_field_chars: refused, nothing more to look at
        return
    span = report.date_range
    start, end = span.start_datetime, span.end_datetime
    if start.tzinfo is not _UTC or end.tzinfo is not _UTC:
        _normalise_dates(report, c)
        start, end = span.start_datetime, span.end_datetime
        if c.errors:  # a date out of range once in UTC: nothing more to compare
            return
    if end < start or end - start > _LONGEST:
        _date_range_warning(start, end, c)
    if start > dt.datetime.now(_UTC) + _SKEW:
        # A report is about sessions that happened (RFC 8460 §4.1): one dated later than now
        # is forged or broken, and would move "the latest report" (and with it the window
        # findings are computed over) into the future.
        c.fail("future_date_range", f"the date range starts at {start.isoformat()}, after "
               "the time the report was read", "$.date-range.start-datetime")
    if not report.contact_info:
        c.warn("missing_contact_info", "contact-info is missing or null", "$.contact-info")
    if not report.report_id or report.report_id.isspace():
        c.warn("empty_report_id", "report-id is empty; duplicates cannot be recognised",
               "$.report-id")
    policies = report.policies
    if not policies:
        c.warn("no_policies", "the report lists no policies", "$.policies")
    views: dict[tuple[str, str], tuple[int, int]] = {}
    sessions = 0
    for i, entry in enumerate(policies):
        verdict, listed = _entry(entry, i, c)
        summary = entry.summary
        sessions += (summary.total_successful_session_count
                     + summary.total_failure_session_count + listed)
        if verdict.kind in VIEWS:
            key = (verdict.key_domain, verdict.kind)
            ok, failed = views.get(key, (0, 0))
            views[key] = (ok + entry.summary.total_successful_session_count,
                          failed + entry.summary.total_failure_session_count)
    if sessions > COUNT_MAX:
        c.fail("invalid_count", f"the report's session counts add up to {sessions:,}, more "
               f"than 2^63-1 ({COUNT_MAX:,}), the largest count a database integer holds",
               "$.policies")
    _overlap(views, c)


def _overlap(views: dict[tuple[str, str], tuple[int, int]], c: Collector) -> None:
    """sts and tlsa policies of one domain are two views of the same sessions (report.counted).
    With the same figures that is plain; with other figures it is ambiguous: say so."""
    for (domain, kind), sts in sorted(views.items()):
        tlsa = views.get((domain, _TLSA))
        if kind != _STS or tlsa is None or tlsa == sts:
            continue
        chosen = _STS if sum(sts) >= sum(tlsa) else _TLSA
        c.warn("sts_tlsa_overlap", f"sts ({sts[0]:,} successful, {sts[1]:,} failed) and tlsa "
               f"({tlsa[0]:,}, {tlsa[1]:,}) policies both report sessions for "
               f"{domain or 'an unnamed domain'} with different figures; they are taken as the "
               f"same sessions and the {chosen} figures are counted", "$.policies")


def _normalise_dates(report: Report, c: Collector) -> None:
    span = report.date_range
    span.start_datetime = _utc(span.start_datetime, "$.date-range.start-datetime", c)
    span.end_datetime = _utc(span.end_datetime, "$.date-range.end-datetime", c)


def _utc(value: dt.datetime, path: str, c: Collector) -> dt.datetime:
    if value.tzinfo is None:
        c.warn("date_format", f"{value.isoformat()!r} has no time zone; read as UTC", path)
        return value.replace(tzinfo=_UTC)
    if value.utcoffset():
        c.originals.setdefault(path, value.isoformat())
        try:
            return value.astimezone(_UTC)
        except OverflowError:  # 9999-12-31T23:00:00-05:00 is in the year 10000 in UTC
            c.fail("date_out_of_range", f"{value.isoformat()!r} falls outside the years 1 "
                   "to 9999 once converted to UTC", path)
            return value
    return value.replace(tzinfo=_UTC)


def _date_range_warning(start: dt.datetime, end: dt.datetime, c: Collector) -> None:
    if end < start:
        c.warn("end_before_start", f"the date range ends ({end}) before it starts ({start})",
               "$.date-range")
    else:
        c.warn("long_date_range", f"the date range spans {end - start}, more than one day "
               "(RFC 8460 §4.1)", "$.date-range")


def _entry(entry: PolicyResult, i: int, c: Collector) -> tuple[_PolicyVerdict, int]:
    """Check one policies[] entry; returns the verdict on its policy block and the sessions
    its failure-details rows list."""
    policy = entry.policy
    verdict = _remembered(policy)
    if verdict is None:
        verdict = _check_policy(policy)
        _remember_policy(policy, verdict)
    if verdict.warnings or verdict.originals:
        _apply(policy, verdict, f"$.policies[{i}].policy", c)
    if verdict.invalid is not None:
        original = dict(verdict.originals).get(".policy-domain", policy.policy_domain or "")
        c.fail("invalid_policy_domain", f"policy-domain {shown(original)} is not a domain "
               f"name: {verdict.invalid}", f"$.policies[{i}].policy.policy-domain")
    summary = entry.summary
    reported = summary.total_failure_session_count
    if reported > _IJSON_MAX or summary.total_successful_session_count > _IJSON_MAX:
        _big_counts(entry, i, c)
    details = entry.failure_details
    if details is None:
        if reported:
            c.warn("missing_failure_details", f"{reported} failed sessions but no "
                   "failure-details", f"$.policies[{i}]")
        return verdict, 0
    total = 0
    known, ips, hosts_ok, mx_level, limit = (
        KNOWN_RESULT_TYPES, _clean_ips, _clean_hosts, MX_LEVEL, _IJSON_MAX)
    for j, row in enumerate(details):
        kind, count, host = row.result_type, row.failed_session_count, row.receiving_mx_hostname
        if (kind in known and count is not None and count <= limit and host in hosts_ok
                and row.sending_mta_ip in ips and row.receiving_ip in ips
                and (host is not None or kind not in mx_level)):
            total += count
        else:
            _detail(row, f"$.policies[{i}].failure-details[{j}]", c)
            total += count or 0
    if details and total != reported:
        c.warn("failure_sum_mismatch", f"failure-details add up to {total} sessions but "
               f"total-failure-session-count is {reported}", f"$.policies[{i}].summary")
    return verdict, total


def _big_counts(entry: PolicyResult, i: int, c: Collector) -> None:
    c.warn("count_beyond_ijson", "a session count is above 2^53-1, beyond what I-JSON "
           "guarantees (RFC 7493 §2.2); kept exactly", f"$.policies[{i}].summary")


def _remembered(policy: Policy) -> _PolicyVerdict | None:
    seen = _policy_memo.get(policy.policy_domain)
    if seen is not None:
        kind, strings, hosts = policy.policy_type, policy.policy_string, policy.mx_host
        for old_kind, old_strings, old_hosts, verdict in seen:
            if old_kind == kind and old_strings == strings and old_hosts == hosts:
                return verdict
    return None


def _remember_policy(policy: Policy, verdict: _PolicyVerdict) -> None:
    if len(_policy_memo) > _CACHE_LIMIT:
        _policy_memo.clear()
    seen = _policy_memo.setdefault(policy.policy_domain, [])
    if len(seen) >= 8:  # a domain's policy changes rarely; keep the latest few versions
        del seen[0]
    strings, hosts = policy.policy_string, policy.mx_host
    seen.append((policy.policy_type, None if strings is None else list(strings),
                 None if hosts is None else list(hosts), verdict))


def _apply(policy: Policy, verdict: _PolicyVerdict, path: str, c: Collector) -> None:
    for code, message, where in verdict.warnings:
        c.warn(code, message, path + where)
    for where, original in verdict.originals:
        c.originals.setdefault(path + where, original)
    policy.policy_domain = verdict.domain
    if verdict.mx_host is not None:
        policy.mx_host = list(verdict.mx_host)


def _check_policy(policy: Policy) -> _PolicyVerdict:
    kind = policy.policy_type
    verdict = _PolicyVerdict(kind)
    warn = verdict.warnings.append
    if kind not in KNOWN_POLICY_TYPES:
        warn(("unknown_policy_type", f"unknown policy-type {shown(kind)} kept as is",
              ".policy-type"))
    if policy.policy_domain is None:
        warn(("missing_policy_domain", "policy-domain is missing", ".policy-domain"))
    else:
        verdict.domain = _domain(policy.policy_domain, ".policy-domain", verdict)
        verdict.invalid = policy_domain_problem(verdict.domain)
        if verdict.invalid is None and verdict.domain.endswith("."):
            verdict.originals.append((".policy-domain", policy.policy_domain))
            verdict.domain = verdict.domain[:-1]  # one name, with or without the root's dot
    if policy.mx_host is not None:
        verdict.mx_host = [_mx_host(h, f".mx-host[{k}]", verdict)
                           for k, h in enumerate(policy.mx_host)]
    verdict.key_domain = (verdict.domain or "").lower()
    strings = policy.policy_string
    if strings and kind == _STS:
        sts = parse_sts_lines(tuple(strings))
        for code, message in sts.problems:
            warn((code, message, ".policy-string"))
        hosts = verdict.mx_host
        if hosts and {h.lower() for h in hosts} != set(sts.mx_patterns):
            warn(("mx_host_differs", f"mx-host {hosts} differs from the policy's mx lines "
                  f"{list(sts.mx_patterns)}", ".mx-host"))
    elif strings and kind == _TLSA:
        for code, message in parse_tlsa_strings(tuple(strings)).problems:
            warn((code, message, ".policy-string"))
    return verdict


def _mx_host(host: str, where: str, verdict: _PolicyVerdict) -> str:
    original = host
    if host.lower().startswith("mx:"):
        verdict.warnings.append(("mx_host_prefix", f"mx-host entry {shown(host)} carries a policy "
                                 "'mx:' prefix", where))
        verdict.originals.append((where, original))
        host = host[3:].strip()
    wildcard = host.startswith("*.")
    name = _domain(host.removeprefix("*."), where, verdict, original)
    return f"*.{name}" if wildcard else name


def _domain(name: str, where: str, verdict: _PolicyVerdict, original: str | None = None) -> str:
    checked = check_domain(name)
    if checked.problem is not None:
        verdict.warnings.append(("domain_name", checked.problem, where))
        if checked.value != name:
            verdict.originals.append((where, original or name))
    return checked.value


def _detail(row: FailureDetail, path: str, c: Collector) -> None:
    kind = row.result_type
    if kind is None:
        c.warn("missing_result_type", "result-type is missing", f"{path}.result-type")
    elif kind not in KNOWN_RESULT_TYPES:
        hint = _DRAFT_RESULT_TYPES.get(kind)
        note = f" (a draft-era name for {hint.value!r})" if hint else ""
        c.warn("unknown_result_type", f"unknown result-type {shown(kind)}{note} kept as is and "
               "counted as a failure", f"{path}.result-type")
    if row.failed_session_count is None:
        c.warn("missing_count", "failed-session-count is missing", f"{path}.failed-session-count")
    if row.sending_mta_ip is not None:
        row.sending_mta_ip = _ip(row.sending_mta_ip, f"{path}.sending-mta-ip", c)
    if row.receiving_ip is not None:
        row.receiving_ip = _ip(row.receiving_ip, f"{path}.receiving-ip", c)
    host = row.receiving_mx_hostname
    if host is not None:
        checked = check_domain(host)
        if checked.problem is None:
            _remember(_clean_hosts, host)
        else:
            if checked.value != host:
                c.originals[f"{path}.receiving-mx-hostname"] = host
                row.receiving_mx_hostname = checked.value
            c.warn("domain_name", checked.problem, f"{path}.receiving-mx-hostname")
    elif kind in MX_LEVEL:
        c.warn("missing_mx_hostname", f"a {kind} row does not say which MX",
               f"{path}.receiving-mx-hostname")


def _ip(value: str, where: str, c: Collector) -> str:
    checked = check_ip(value)
    if checked.problem is None:
        _remember(_clean_ips, value)
        return value
    if checked.value != value:
        c.originals[where] = value
    c.warn("ip_address", checked.problem, where)
    return checked.value


def _remember(cache: set[str | None], value: str) -> None:
    if len(cache) > _CACHE_LIMIT:
        cache.clear()
        cache.add(None)
    cache.add(value)
