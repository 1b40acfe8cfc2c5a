"""A read report → the rows that store it, and the roll-up increments it adds.

Pure functions: no database here, so the mapping is tested on its own and the writer only
moves rows. Counts fit a BIGINT: the reader refuses a count, or a report whose counts add up,
above 2^63-1 (report.COUNT_MAX). Roll-up sums over many reports stop at 2^63-1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from typing import Any

import msgspec

from tlsscope.notes import Note
from tlsscope.parse.clean import clean
from tlsscope.parse.results import ReadReport
from tlsscope.report import COUNT_MAX, Report
from tlsscope.vocab import Channel

BIGINT_MAX = COUNT_MAX
_json = msgspec.json.Encoder()

TotalsKey = tuple[str, dt.date, str, str, str]  # domain, day, policy type, mode, reporter
FailuresKey = tuple[str, dt.date, str, str, str, str, str]


def report_key(organization_name: str, report_id: str) -> str:
    """What identifies a report (RFC 8460 §4.4: report-id is unique per organisation)."""
    digest = hashlib.sha256(f"{organization_name}\x00{report_id}".encode(errors="surrogatepass"))
    return digest.hexdigest()[:32]


def content_digest(report: Report) -> str:
    """Same report content, whatever wrapper it came in, gives the same digest."""
    return hashlib.sha256(_json.encode(report)).hexdigest()


def encode_findings(findings: list[Note]) -> str:
    """Findings as stored JSON; their texts cleaned, in case one did not come from the reader."""
    return _json.encode([{"code": f.code, "message": clean(f.message), "path": clean(f.path)}
                         for f in findings]).decode()


def to_json(value: Any) -> str | None:
    return None if value is None else _json.encode(value).decode()


class ReportRows:
    """Rows for one report: the report row, its policies, its failure rows."""

    def __init__(self, read: ReadReport, input_sha256: str, now: dt.datetime) -> None:
        report = read.report
        self.key = report_key(report.organization_name, report.report_id)
        self.id = 0  # the report row's id, once stored (bind)
        self.content = content_digest(report)
        counted = report.counted_policies()
        self.policies: list[dict[str, Any]] = []
        self.details: list[dict[str, Any]] = []
        for i, entry in enumerate(report.policies):
            policy, summary = entry.policy, entry.summary
            sts = policy.sts
            self.policies.append({
                "report": None, "idx": i, "policy_type": policy.policy_type,
                "policy_domain": (policy.policy_domain or "").lower(),
                "policy_strings": to_json(policy.policy_string), "mx_host": to_json(policy.mx_host),
                "mode": sts.mode if sts else None, "max_age": sts.max_age if sts else None,
                "successful": summary.total_successful_session_count,
                "failed": summary.total_failure_session_count,
                "counted": counted[i], "details_listed": entry.failure_details is not None,
            })
            for j, row in enumerate(entry.details):
                self.details.append({
                    "report": None, "policy_idx": i, "idx": j,
                    "result_type": row.result_type,
                    "failed_session_count": row.failed_session_count,
                    "sending_mta_ip": row.sending_mta_ip,
                    "receiving_mx_hostname": row.receiving_mx_hostname,
                    "receiving_mx_helo": row.receiving_mx_helo, "receiving_ip": row.receiving_ip,
                    "additional_information": row.additional_information,
                    "failure_reason_code": row.failure_reason_code,
                })
        counted_ok = sum(p["successful"] for p in self.policies if p["counted"])
        counted_failed = sum(p["failed"] for p in self.policies if p["counted"])
        self.report: dict[str, Any] = {
            "key": self.key, "organization_name": report.organization_name,
            "report_id": report.report_id, "contact_info": report.contact_info,
            "start_at": report.start, "end_at": report.end, "day": report.day,
            "input_sha256": input_sha256, "location": read.location,
            "content_sha256": self.content, "successful": counted_ok, "failed": counted_failed,
            "warnings": encode_findings(read.warnings) if read.warnings else "[]",
            "extras": _json.encode(read.extras).decode() if read.extras else "{}",
            "originals": _json.encode(read.originals).decode() if read.originals else "{}",
            "stored_at": now,
            # provenance: the writer sets it from the arrival (store/write.py)
            "channel": Channel.FILE.value, "peer": "", "authenticated": True, "reporter_new": False,
        }

    def bind(self, report: int) -> None:
        """Once the report row has its id, its policies and failure rows point to it."""
        self.id = report
        for row in self.policies:
            row["report"] = report
        for row in self.details:
            row["report"] = report


class Rollup:
    """Roll-up increments for a batch of stored reports, summed before they are written."""

    def __init__(self) -> None:
        self.totals: dict[TotalsKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        self.failures: dict[FailuresKey, list[int]] = defaultdict(lambda: [0, 0])

    def add(self, rows: ReportRows) -> None:
        day: dt.date = rows.report["day"]
        org: str = rows.report["organization_name"]
        seen_domains: set[str] = set()
        types: dict[int, tuple[str, str, bool]] = {}
        for policy in rows.policies:
            domain, kind = policy["policy_domain"], policy["policy_type"]
            counted = policy["counted"]
            types[policy["idx"]] = (domain, kind, counted)
            sums = self.totals[(domain, day, kind, policy["mode"] or "", org)]
            if counted and domain not in seen_domains:
                seen_domains.add(domain)
                sums[0] += 1
            ok, failed = policy["successful"], policy["failed"]
            sums[1] += ok
            sums[2] += failed
            if counted:
                sums[3] += ok
                sums[4] += failed
        for row in rows.details:
            domain, kind, counted = types[row["policy_idx"]]
            sessions = row["failed_session_count"] or 0
            sums = self.failures[(domain, day, org, kind, row["result_type"] or "",
                                  row["receiving_mx_hostname"] or "", row["receiving_ip"] or "")]
            sums[0] += sessions
            if counted:
                sums[1] += sessions

    def totals_rows(self) -> list[dict[str, Any]]:
        top = BIGINT_MAX  # sums over several reports stop there (each report fits on its own)
        return [{"domain": k[0], "day": k[1], "policy_type": k[2], "mode": k[3],
                 "organization_name": k[4], "reports": v[0], "successful": min(v[1], top),
                 "failed": min(v[2], top), "counted_successful": min(v[3], top),
                 "counted_failed": min(v[4], top)}
                for k, v in self.totals.items()]

    def failures_rows(self) -> list[dict[str, Any]]:
        top = BIGINT_MAX
        return [{"domain": k[0], "day": k[1], "organization_name": k[2], "policy_type": k[3],
                 "result_type": k[4], "receiving_mx_hostname": k[5], "receiving_ip": k[6],
                 "sessions": min(v[0], top), "counted_sessions": min(v[1], top)}
                for k, v in self.failures.items()]
