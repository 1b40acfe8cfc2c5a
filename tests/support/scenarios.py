"""Scenario data: realistic TLS-RPT reports (RFC 8460 §4) written as files, one story each.

`report(...)` builds one daily report from one organisation; `write(...)` puts a series of them
in a folder, ready for `tlsscope ingest` or the store helpers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Failure:
    result_type: str
    sessions: int
    mx: str
    receiving_ip: str = "192.0.2.25"
    sending_ip: str = "198.51.100.7"
    reason: str | None = None


@dataclass(frozen=True)
class Day:
    org: str
    day: dt.date
    successful: int
    failures: Sequence[Failure] = field(default_factory=tuple)
    mode: str = "enforce"  # enforce | testing (sts), dane (a tlsa policy), none (no policy)


def report_id(domain: str, entry: Day) -> str:
    return f"{entry.day.isoformat()}-{entry.org}-{domain}"


def report(domain: str, entry: Day) -> dict[str, object]:
    start = dt.datetime.combine(entry.day, dt.time(), dt.UTC)
    if entry.mode in ("enforce", "testing"):
        policy: dict[str, object] = {
            "policy-type": "sts", "policy-domain": domain,
            "policy-string": ["version: STSv1", f"mode: {entry.mode}", f"mx: *.{domain}",
                              "max_age: 604800"],
            "mx-host": [f"*.{domain}"]}
    elif entry.mode == "dane":
        policy = {"policy-type": "tlsa", "policy-domain": domain,
                  "policy-string": ["3 1 1 " + "ab" * 32], "mx-host": [f"mx1.{domain}"]}
    else:
        policy = {"policy-type": "no-policy-found", "policy-domain": domain}
    details = []
    for failure in entry.failures:
        detail: dict[str, object] = {
            "result-type": failure.result_type, "sending-mta-ip": failure.sending_ip,
            "receiving-mx-hostname": failure.mx, "failed-session-count": failure.sessions}
        if failure.receiving_ip:  # Microsoft gives none (RFC 8460 §4.4: optional)
            detail["receiving-ip"] = failure.receiving_ip
        if failure.reason:
            detail["failure-reason-code"] = failure.reason
        details.append(detail)
    return {
        "organization-name": entry.org,
        "date-range": {"start-datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "end-datetime": (start + dt.timedelta(seconds=86399))
                       .strftime("%Y-%m-%dT%H:%M:%SZ")},
        "contact-info": f"tlsrpt@{entry.org.lower().replace(' ', '')}.example",
        "report-id": report_id(domain, entry),
        "policies": [{
            "policy": policy,
            "summary": {"total-successful-session-count": entry.successful,
                        "total-failure-session-count": sum(f.sessions for f in entry.failures)},
            "failure-details": details}],
    }


def write(folder: Path, domain: str, days: Iterable[Day]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, entry in enumerate(days):
        path = folder / f"{entry.day.isoformat()}-{number:05d}-{domain}.json"
        path.write_text(json.dumps(report(domain, entry)))
        paths.append(path)
    return paths


def daily(start: dt.date, count: int) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range(count)]
