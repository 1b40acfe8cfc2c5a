"""One finding per problem, over scenario reports (their facts built in memory, as the store
returns them): the issue's cases."""

from __future__ import annotations

import datetime as dt

from tests.support.facts import reported
from tests.support.scenarios import Day, Failure, daily
from tests.support.stories import (
    DOMAIN,
    REPORTERS,
    START,
    assert_no_near_duplicates,
    detected,
    expiring_mx2,
    healthy,
)
from tlsscope.analyze.detectors import detect, spike


def expiry_on_the_last_days() -> list[Day]:
    """20 healthy days, then mx2's certificate expires: Google names the receiving IP,
    Microsoft does not; a spike, a new failing MX and a new result type on the same days."""
    days = healthy(20)
    for day in daily(START + dt.timedelta(days=20), 2):
        days += [Day("Google LLC", day, 700, [Failure("certificate-expired", 200,
                                                      f"mx2.{DOMAIN}", receiving_ip="192.0.2.2")]),
                 Day("Microsoft Corporation", day, 200, [Failure("certificate-expired", 100,
                                                                 f"mx2.{DOMAIN}",
                                                                 receiving_ip="")]),
                 Day("Mail.ru", day, 40)]
    return days


def test_an_expiry_seen_with_and_without_receiving_ip_is_one_finding() -> None:
    days = expiry_on_the_last_days()
    last = START + dt.timedelta(days=21)
    found = [f for f in detected(days, last) if f.status == "open"]
    (expired,) = found
    assert (expired.kind, expired.severity, expired.mx_host, expired.receiving_ip) == (
        "certificate", "critical", "mx2.example.com", "192.0.2.2")
    assert expired.reporters == ["Google LLC", "Microsoft Corporation"]
    assert expired.sessions == 600
    assert {(e.reporter, e.receiving_ip) for e in expired.evidence} == {
        ("Google LLC", "192.0.2.2"), ("Microsoft Corporation", "")}
    assert expired.also_seen_by == ["failure-spike", "new-result-type", "new-failing-mx"]
    assert "Failures to example.com jumped on 2026-02-21" in expired.explanation
    # The spike detector saw it, dated on the first failing day, and it is this finding's.
    seen = spike.find(reported(DOMAIN, days, START, last))
    assert seen is not None and seen.start == START + dt.timedelta(days=20)
    (in_pt,) = [f for f in detected(days, last, lang="pt") if f.status == "open"]
    assert "Outros detectores viram a mesma causa" in in_pt.explanation


def test_scenarios_have_no_near_duplicates() -> None:
    days = expiring_mx2()
    for day in daily(START, 28):
        assert_no_near_duplicates(detected(days, day))
    facts = reported("example.org", [
        Day(org, day, ok, [Failure("starttls-not-supported", 5, "mx1.example.org",
                                   receiving_ip="" if org != "Google LLC" else "192.0.2.9")])
        for day in daily(START, 10) for org, ok in REPORTERS],
        START, START + dt.timedelta(days=9))
    assert {f.receiving_ip for f in facts.failures} == {"", "192.0.2.9"}
    found = detect(facts)
    assert_no_near_duplicates(found)
    (starttls,) = [f for f in found if f.mx_host]
    assert (starttls.receiving_ip, starttls.sessions, len(starttls.reporters)) == (
        "192.0.2.9", 150, 3)


def test_what_enforce_would_refuse_goes_with_its_cause() -> None:
    """A week of failures under testing, then 14 clean days from every reporter: "ready for
    enforce" opens, and "would have been refused" is resolved, not left open beside it."""
    days = []
    for n, day in enumerate(daily(START, 21)):
        for org, ok in REPORTERS:
            failures = ([Failure("certificate-host-mismatch", 300, f"mx1.{DOMAIN}")]
                        if n < 7 and org == "Google LLC" else [])
            days.append(Day(org, day, ok, failures, mode="testing"))
    found = {f.kind: f for f in detected(days, START + dt.timedelta(days=20))}
    assert found["ready-for-enforce"].status == "open"
    assert (found["testing-would-block"].status, found["testing-would-block"].sessions) == (
        "resolved", 2100)
    assert found["certificate"].status == "resolved"
    # While the failures go on, it is one problem with its cause (one alert, not two), the
    # cause's explanation saying what enforce would do; and nothing says "ready".
    during = {f.kind: f for f in detected(days, START + dt.timedelta(days=6))}
    assert "testing-would-block" not in during
    assert during["certificate"].status == "open"
    assert "testing-would-block" in during["certificate"].also_seen_by
    assert "Under enforce, 2100 sessions would have been refused" in during[
        "certificate"].explanation
