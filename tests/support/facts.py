"""Facts built in memory for the pure analysis tests: the rows the store would return.

`policy`, `failure` and `facts` write them row by row; `reported` gives those of scenario days
(tests/support/scenarios.py) as the store gives them once the days are ingested, and
tests/app/test_facts_path.py holds the store to it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from tests.support.scenarios import Day, report_id
from tlsscope.facts import DomainFacts, FailureRow, PolicyDay
from tlsscope.store.rows import report_key

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


# A scenario day's mode → its policy's type and mode ("": not quoted).
_POLICIES = {"enforce": ("sts", "enforce"), "testing": ("sts", "testing"), "dane": ("tlsa", ""),
             "none": ("no-policy-found", "")}


def reported(domain: str, entries: Iterable[Day], since: dt.date | None = None,
             until: dt.date | None = None, *, received: dt.date | None = None) -> DomainFacts:
    """What `store.queries.domain_facts(domain, since, until)` returns once these days'
    reports (`scenarios.write`) are ingested as files: one policy per report, in the store's
    order (day, report key); a report key seen twice keeps its first report. `received` is the
    day they were stored (the analyses other than `confirm` do not read it)."""
    entries = list(entries)
    since = since or min(e.day for e in entries)
    until = until or max(e.day for e in entries)
    policies: dict[str, PolicyDay] = {}
    failures: dict[str, list[FailureRow]] = {}
    for entry in entries:
        key = report_key(entry.org, report_id(domain, entry))
        if key in policies or not since <= entry.day <= until:
            continue
        kind, mode = _POLICIES[entry.mode]
        policies[key] = PolicyDay(
            report_key=key, reporter=entry.org, day=entry.day, policy_type=kind, mode=mode,
            successful=entry.successful, failed=sum(f.sessions for f in entry.failures),
            counted=True, mx_patterns=(f"*.{domain}",) if kind == "sts" else (),
            received=received)
        failures[key] = [
            FailureRow(report_key=key, reporter=entry.org, day=entry.day, policy_type=kind,
                       mode=mode, result_type=f.result_type, sessions=f.sessions,
                       mx_host=f.mx.lower().rstrip("."), receiving_ip=f.receiving_ip,
                       sending_ip=f.sending_ip, reason_code=f.reason or "", counted=True)
            for f in entry.failures]
    order = sorted(policies, key=lambda k: (policies[k].day, k))
    return DomainFacts(domain=domain.lower(), since=since, until=until,
                       policies=[policies[k] for k in order],
                       failures=[row for k in order for row in failures[k]])
