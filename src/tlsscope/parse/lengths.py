"""Absurd lengths: a report string longer than anyone writes is kept with a warning; one
longer than `max_field_chars` refuses the report (the input is quarantined, with the path).

Nothing in RFC 8460 bounds a string, and the reader keeps what it is sent, but a 100 KB
organisation name is an attack or a broken generator, not a name: it would fill every page
and log line it is shown in. What anyone writes, per field:

    host names (mx-host, receiving-mx-hostname and -helo)                  255 (RFC 1035: 253)
    names and identifiers (organization-name, report-id, contact-info,
    result-type, failure-reason-code, the IP fields)                      1,024
    policy-string lines (a TLSA record may hold a whole certificate in
    hex) and additional-information (a URI)                               16,384

policy-domain is not looked at here: longer than 253, it is not a domain name, and the
report is refused for that (invalid_policy_domain). This runs on every report: each failure
row is screened by its strings' total length first.
"""

from __future__ import annotations

import msgspec

from tlsscope.parse.lenient import Collector
from tlsscope.report import FailureDetail, Policy, Report

HOST, NAME, TEXT = 255, 1024, 16_384


def check_lengths(report: Report, c: Collector) -> None:
    if (len(report.organization_name) > NAME or len(report.report_id) > NAME
            or len(report.contact_info or "") > NAME):
        for value, path in ((report.organization_name, "$.organization-name"),
                            (report.report_id, "$.report-id"),
                            (report.contact_info, "$.contact-info")):
            _check(value, path, NAME, c)
    for i, entry in enumerate(report.policies):
        policy = entry.policy
        if (len(policy.policy_type) > NAME
                or max(map(len, policy.policy_string or ()), default=0) > TEXT
                or max(map(len, policy.mx_host or ()), default=0) > HOST):
            _policy(policy, f"$.policies[{i}].policy", c)
        for j, row in enumerate(entry.failure_details or ()):
            if _total(row) > HOST:
                _row(row, f"$.policies[{i}].failure-details[{j}]", c)


def _policy(policy: Policy, at: str, c: Collector) -> None:
    _check(policy.policy_type, f"{at}.policy-type", NAME, c)
    for j, line in enumerate(policy.policy_string or ()):
        _check(line, f"{at}.policy-string[{j}]", TEXT, c)
    for j, host in enumerate(policy.mx_host or ()):
        _check(host, f"{at}.mx-host[{j}]", HOST, c)


def _total(row: FailureDetail) -> int:
    return (len(row.result_type or "") + len(row.sending_mta_ip or "")
            + len(row.receiving_mx_hostname or "") + len(row.receiving_mx_helo or "")
            + len(row.receiving_ip or "") + len(row.additional_information or "")
            + len(row.failure_reason_code or ""))


def _row(row: FailureDetail, at: str, c: Collector) -> None:
    for value, name, usual in ((row.result_type, "result-type", NAME),
                               (row.sending_mta_ip, "sending-mta-ip", NAME),
                               (row.receiving_mx_hostname, "receiving-mx-hostname", HOST),
                               (row.receiving_mx_helo, "receiving-mx-helo", HOST),
                               (row.receiving_ip, "receiving-ip", NAME),
                               (row.additional_information, "additional-information", TEXT),
                               (row.failure_reason_code, "failure-reason-code", NAME)):
        _check(value, f"{at}.{name}", usual, c)


def _check(value: str | None, path: str, usual: int, c: Collector) -> None:
    if value is None or len(value) <= usual:
        return
    if len(value) > c.max_chars:
        c.fail("value_too_long", f"{len(value):,} characters, more than max_field_chars "
               f"({c.max_chars:,}); the report is not read", path)
    else:
        c.warn("long_value", f"{len(value):,} characters, more than anyone writes here "
               f"({usual:,}); kept, and shown shortened", path)


def check_extras(c: Collector) -> None:
    """Unknown members are kept whole (as extras): their names are held to the names' limits,
    their values (of any shape) to max_field_chars as JSON text."""
    for path, members in c.extras.items():
        for name, value in members.items():
            where = f"{path}.{name[:64]}"
            _check(name, f"{where} (its name)", NAME, c)
            try:
                size = len(value) if isinstance(value, str) else len(msgspec.json.encode(value))
            except (TypeError, msgspec.EncodeError):  # not a JSON value: nothing to measure
                size = 0
            if size > c.max_chars:
                c.fail("value_too_long", f"the unknown member's value is {size:,} characters "
                       f"long, more than max_field_chars ({c.max_chars:,}); the report is not "
                       "read", where)
