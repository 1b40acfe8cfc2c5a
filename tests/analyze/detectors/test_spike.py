"""The failure spike, dated on the change point (pure facts, no store)."""

from __future__ import annotations

import datetime as dt

from tests.support.facts import days, facts, policy
from tlsscope.analyze.detectors import spike
from tlsscope.facts import PolicyDay

NOV = dt.date(2026, 11, 1)


def series(rates: dict[dt.date, int], count: int = 30, sessions: int = 1000) -> list[PolicyDay]:
    return [policy("Google LLC", day, sessions - rates.get(day, 0), rates.get(day, 0))
            for day in days(NOV, count)]


def test_failures_that_began_on_the_25th_are_dated_on_the_25th() -> None:
    failing = {day: 60 for day in days(dt.date(2026, 11, 25), 6)}
    (found,) = spike.detect(facts(series(failing)))
    assert (found.first_seen, found.last_seen, found.sessions) == (
        dt.date(2026, 11, 25), dt.date(2026, 11, 30), 360)
    assert found.title == "Failures to example.com jumped on 2026-11-25"
    assert found.explanation.startswith(
        "From 2026-11-25 to 2026-11-30 (6 days), 6.0 % of sessions to example.com failed "
        "(360 of 6000; between 6.0 % and 6.0 % a day), against a usual 0.0 % over the 24 days "
        "before 2026-11-25.")
    assert {e.day for e in found.evidence} == set(failing)
    (in_pt,) = spike.detect(facts(series(failing)), "pt")
    assert in_pt.explanation.startswith("De 2026-11-25 a 2026-11-30 (6 dias)")


def test_the_baseline_is_the_days_before_the_change_not_the_failing_ones() -> None:
    # A usual 1 % until the 20th, then 10 % to 14 % a day: measured against 1 %.
    rates = {day: 10 for day in days(NOV, 19)}
    rates.update({day: 100 + 10 * (n % 5) for n, day in enumerate(days(dt.date(2026, 11, 20),
                                                                      11))})
    (found,) = spike.detect(facts(series(rates)))
    assert found.first_seen == dt.date(2026, 11, 20)
    assert "against a usual 1.0 % over the 19 days before 2026-11-20" in found.explanation
    assert "between 10.0 % and 14.0 % a day" in found.explanation


def test_a_jump_on_the_latest_day_alone_is_dated_that_day() -> None:
    rates = {day: 10 for day in days(NOV, 15)} | {dt.date(2026, 11, 15): 120}
    (found,) = spike.detect(facts(series(rates, count=15)))
    assert found.first_seen == found.last_seen == dt.date(2026, 11, 15)
    assert found.explanation.startswith("On 2026-11-15, 12.0 % of sessions")


def test_no_spike_when_it_is_over_or_never_sustained() -> None:
    over = {day: 80 for day in days(dt.date(2026, 11, 15), 5)}  # back to 0 % since the 20th
    assert spike.detect(facts(series(over))) == []
    flickering = {day: 60 for day in days(dt.date(2026, 11, 20), 11)[::2]}
    (found,) = spike.detect(facts(series(flickering)))
    # Every day after a change must be high: alternate days are no level from the 20th on,
    # and only the latest day, high again, is a jump of its own.
    assert found.first_seen == dt.date(2026, 11, 30)
    assert spike.detect(facts(series({}))) == []


def test_too_few_days_before_or_too_few_sessions() -> None:
    assert spike.detect(facts(series({day: 60 for day in days(dt.date(2026, 11, 6), 4)},
                                     count=10))) == []
    assert spike.detect(facts(series({dt.date(2026, 11, 30): 9}, sessions=100))) == []


def test_a_spike_is_explained_by_the_failures_without_which_it_would_not_be_one() -> None:
    failing = {day: 60 for day in days(dt.date(2026, 11, 25), 6)}
    found = spike.find(facts(series(failing)))
    assert found is not None
    # 50 of the 60 a day are one finding's: the 10 left (1 %) are under the 2-point floor.
    assert found.explained_by({day: 50 for day in failing})
    # Half of them are not enough: 30 a day (3 %) would still be a spike.
    assert not found.explained_by({day: 30 for day in failing})
    # Nor a finding of the first days only: the later days would still be high.
    assert not found.explained_by({dt.date(2026, 11, 25): 60})
