"""When alerts go out: batches, quiet hours across midnight and time zones, the backoff."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from tlsscope.alert import timing

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


def test_instant_hourly_and_daily_boundaries() -> None:
    now = at("2026-03-10T10:20:00+00:00")
    assert timing.due(now, "instant", "", "UTC", False) == now
    assert timing.due(now, "hourly", "", "UTC", False) == at("2026-03-10T11:00:00+00:00")
    assert timing.due(now, "daily", "", "UTC", False) == at("2026-03-11T08:00:00+00:00")
    early = at("2026-03-10T06:00:00+00:00")
    assert timing.due(early, "daily", "", "UTC", False) == at("2026-03-10T08:00:00+00:00")
    # 08:00 in Lisbon in summer is 07:00 UTC
    summer = at("2026-07-01T12:00:00+00:00")
    assert timing.due(summer, "daily", "", "Europe/Lisbon", False) == at(
        "2026-07-02T07:00:00+00:00")


def test_quiet_hours_across_midnight_push_to_their_end_unless_critical_passes() -> None:
    late = at("2026-01-15T23:30:00+00:00")  # Lisbon is UTC in winter
    end = at("2026-01-16T07:00:00+00:00")
    assert timing.due(late, "instant", "22:00-07:00", "Europe/Lisbon", False) == end
    assert timing.due(late, "instant", "22:00-07:00", "Europe/Lisbon", True) == late
    small_hours = at("2026-01-16T03:00:00+00:00")
    assert timing.due(small_hours, "instant", "22:00-07:00", "Europe/Lisbon", False) == end
    day = at("2026-01-16T12:00:00+00:00")
    assert timing.due(day, "instant", "22:00-07:00", "Europe/Lisbon", False) == day
    # Quiet hours within one day, in São Paulo (UTC-3): 01:00-06:00 local = 04:00-09:00 UTC
    inside = at("2026-01-16T05:00:00+00:00")
    assert timing.due(inside, "instant", "01:00-06:00", "America/Sao_Paulo", False) == at(
        "2026-01-16T09:00:00+00:00")
    # An hourly batch whose boundary falls in the quiet hours waits for their end.
    assert timing.due(at("2026-01-15T21:30:00+00:00"), "hourly", "22:00-07:00", "UTC",
                      False) == end


@pytest.mark.parametrize("bad", ["22-07", "25:00-07:00", "22:00-22:00", "x" * 5000])
def test_bad_quiet_hours_are_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(ValueError, match="quiet hours"):
        timing.quiet_hours(bad)


@pytest.mark.parametrize("bad", ["Mars/Olympus", "../../etc/passwd", "", "x" * 500])
def test_bad_time_zones_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        timing.zone(bad)


def test_the_backoff_runs_from_one_minute_to_six_hours_then_gives_up() -> None:
    waits = [timing.retry_after(n) for n in range(1, 8)]
    assert waits[0] == dt.timedelta(minutes=1) and waits[5] == dt.timedelta(hours=6)
    assert waits[6] is None
    assert all(a is not None and b is not None and a < b for a, b in itertools.pairwise(waits[:6]))
