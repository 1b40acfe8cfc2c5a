"""`InputResult` → the JSON contract of `tlsscope parse --json` (documented in docs/cli.md).

Other tools script against these names; change them only with a version note. Fields beyond
the contract (`kind`, `location`, `duplicate`, `max_age`, `extras`, `originals`) are additions.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from tlsscope.notes import Note
from tlsscope.parse.results import InputResult, Outcome, ReadReport
from tlsscope.parse.values import format_datetime
from tlsscope.report import FailureDetail, PolicyResult


def finding(f: Note) -> dict[str, str]:
    return {"code": f.code, "message": f.message, "path": f.path}


def input_entry(result: InputResult) -> dict[str, Any]:
    return {
        "source": result.source,
        "outcome": result.outcome.value,
        "kind": result.kind,
        "errors": [finding(f) for f in result.errors],
        "warnings": [finding(f) for f in result.warnings],
        "reports": [report_entry(r) for r in result.reports],
    }


def report_entry(read: ReadReport) -> dict[str, Any]:
    report = read.report
    return {
        "organization_name": report.organization_name,
        "contact_info": report.contact_info,
        "report_id": report.report_id,
        "start": format_datetime(report.start),
        "end": format_datetime(report.end),
        "day": report.day.isoformat(),
        "location": read.location,
        "duplicate": read.duplicate,
        "warnings": [finding(f) for f in read.warnings],
        "policies": [policy_entry(p, counted) for p, counted
                     in zip(report.policies, report.counted_policies(), strict=True)],
        "domain_totals": {domain: {"successful": ok, "failed": failed}
                          for domain, (ok, failed) in report.domain_totals().items()},
        "extras": read.extras,
        "originals": read.originals,
    }


def policy_entry(entry: PolicyResult, counted: bool = True) -> dict[str, Any]:
    policy = entry.policy
    sts = policy.sts
    return {
        "policy_type": policy.policy_type,
        "policy_domain": policy.policy_domain,
        "policy_strings": policy.policy_string,
        "mode": sts.mode if sts else None,
        "max_age": sts.max_age if sts else None,
        "mx_patterns": list(sts.mx_patterns) if sts else [],
        "mx_host": policy.mx_host,
        "tlsa_records": [str(r) for r in policy.tlsa_records],
        "successful_session_count": entry.summary.total_successful_session_count,
        "failed_session_count": entry.summary.total_failure_session_count,
        "counted": counted,
        "failure_details": [detail_entry(d) for d in entry.details],
    }


def detail_entry(row: FailureDetail) -> dict[str, Any]:
    return {
        "result_type": row.result_type,
        "failed_session_count": row.failed_session_count,
        "sending_mta_ip": row.sending_mta_ip,
        "receiving_mx_hostname": row.receiving_mx_hostname,
        "receiving_mx_helo": row.receiving_mx_helo,
        "receiving_ip": row.receiving_ip,
        "additional_information": row.additional_information,
        "failure_reason_code": row.failure_reason_code,
    }


class EncodedEntry(NamedTuple):
    """One input's contract entry as JSON, with what is needed to mark duplicates later."""

    json: bytes
    keys: tuple[tuple[str, str], ...]
    rejected: bool


_encoder = msgspec.json.Encoder()


def encode_entry(result: InputResult) -> EncodedEntry:
    return EncodedEntry(_encoder.encode(input_entry(result)),
                        tuple(r.report.key for r in result.reports),
                        result.outcome is Outcome.REJECTED)


def mark_duplicates(entry: EncodedEntry, duplicate: list[bool]) -> bytes:
    """Rewrite an encoded entry whose reports (some or all) were seen earlier in the run."""
    decoded = msgspec.json.decode(entry.json)
    for report, seen in zip(decoded["reports"], duplicate, strict=True):
        report["duplicate"] = seen
    if decoded["outcome"] == Outcome.ACCEPTED and all(duplicate):
        decoded["outcome"] = Outcome.DUPLICATE.value
    return _encoder.encode(decoded)
