"""The detector tests' stories: weeks of daily reports for example.com from three reporters,
from 1 February 2026, and the findings detected over them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from tests.support.facts import reported
from tests.support.scenarios import Day, Failure, daily
from tlsscope.analyze.detectors import DomainFinding, detect

DOMAIN = "example.com"
START = dt.date(2026, 2, 1)
REPORTERS = (("Google LLC", 900), ("Microsoft Corporation", 300), ("Mail.ru", 40))


def detected(entries: Sequence[Day], until: dt.date, days: int = 28,
             lang: str = "en") -> list[DomainFinding]:
    """The findings over the `days` up to `until` of these days' reports, their facts built
    in memory as the store returns them (tests/support/facts.py `reported`)."""
    since = until - dt.timedelta(days=days - 1)
    return detect(reported(DOMAIN, entries, since, until), lang)


def assert_no_near_duplicates(found: list[DomainFinding]) -> None:
    """No two open findings share a title, nor (for those about an MX or a result type) the
    domain, MX and result type: one finding per problem."""
    opened = [f for f in found if f.status == "open"]
    titles = [f.title for f in opened]
    assert len(titles) == len(set(titles)), titles
    keys = [(f.domain, f.mx_host, f.result_type) for f in opened if f.mx_host or f.result_type]
    assert len(keys) == len(set(keys)), keys


def healthy(days: int, mode: str = "enforce") -> list[Day]:
    return [Day(org, day, ok, mode=mode) for day in daily(START, days) for org, ok in REPORTERS]


def expiring_mx2() -> list[Day]:
    """mx2's certificate expires on 8 Feb and is renewed on 15 Feb; Google and Microsoft see
    it (Mail.ru only ever reaches mx1)."""
    days = []
    for day in daily(START, 28):
        broken = dt.date(2026, 2, 8) <= day <= dt.date(2026, 2, 14)
        for org, ok in REPORTERS:
            failures = [Failure("certificate-expired", 4 if org == "Google LLC" else 2,
                                f"mx2.{DOMAIN}", receiving_ip="192.0.2.2",
                                reason="X509_V_ERR_CERT_HAS_EXPIRED")] \
                if broken and org != "Mail.ru" else []
            days.append(Day(org, day, ok, failures))
    return days
