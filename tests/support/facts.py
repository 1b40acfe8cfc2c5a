"""Facts written by hand for the pure detector tests: the rows the store would return."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from tlsscope.facts import DomainFacts, FailureRow, PolicyDay

DOMAIN = "example.com"


def key(reporter: str, day: dt.date) -> str:
    return f"{day.isoformat()}-{reporter}"


def policy(reporter: str, day: dt.date, successful: int, failed: int = 0, *,
           mode: str = "enforce", patterns: tuple[str, ...] = ("*.example.com",),
           policy_type: str = "sts", idx: int = 0, report: str = "") -> PolicyDay:
    return PolicyDay(report_key=report or key(reporter, day), reporter=reporter, day=day,
                     policy_type=policy_type, mode=mode, successful=successful, failed=failed,
                     counted=True, mx_patterns=patterns if policy_type == "sts" else (),
                     policy_idx=idx)


def failure(reporter: str, day: dt.date, result_type: str, sessions: int, mx: str, *,
            ip: str = "", sending_ip: str = "", mode: str = "enforce", idx: int = 0,
            report: str = "") -> FailureRow:
    return FailureRow(report_key=report or key(reporter, day), reporter=reporter, day=day,
                      policy_type="sts", mode=mode, result_type=result_type,
                      sessions=sessions, mx_host=mx, receiving_ip=ip, sending_ip=sending_ip,
                      reason_code="", counted=True, policy_idx=idx)


def facts(policies: Iterable[PolicyDay], failures: Iterable[FailureRow] = ()) -> DomainFacts:
    policies, failures = list(policies), list(failures)
    days = [p.day for p in policies]
    return DomainFacts(domain=DOMAIN, since=min(days), until=max(days), policies=policies,
                       failures=failures)


def days(start: dt.date, count: int) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range(count)]
