"""Dates: RFC 3339 normalised to UTC, and the report's day, whatever the machine's time zone."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tlsscope.parse.contract import report_entry
from tlsscope.parse.json_report import read_json
from tlsscope.parse.results import ReadReport
from tlsscope.parse.values import format_datetime, parse_datetime

QUIRKS = Path(__file__).parents[1] / "fixtures" / "quirks"


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Kolkata"], autouse=True)
def machine_tz(request: pytest.FixtureRequest) -> Iterator[str]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def read(name: str) -> ReadReport:
    (result,) = read_json((QUIRKS / name).read_bytes())
    assert isinstance(result, ReadReport)
    return result


@pytest.mark.parametrize(("name", "start", "end", "day"), [
    ("date-next-midnight-end.json", "2025-03-11T00:00:00Z", "2025-03-12T00:00:00Z", "2025-03-11"),
    ("date-unaligned-window.json", "2025-03-11T17:42:10Z", "2025-03-12T17:42:10Z", "2025-03-11"),
    ("date-offset-and-fraction.json", "2025-03-11T00:00:00.25Z", "2025-03-11T23:59:59.999Z",
     "2025-03-11"),
    ("date-offset-previous-day.json", "2025-03-11T00:00:00Z", "2025-03-11T23:59:59Z",
     "2025-03-11"),
    ("date-no-timezone.json", "2025-03-11T00:00:00Z", "2025-03-11T23:59:59Z", "2025-03-11"),
    ("date-lowercase-and-space.json", "2025-03-11T00:00:00Z", "2025-03-11T23:59:59Z",
     "2025-03-11"),
])
def test_report_dates_are_utc_and_the_day_is_the_start_date(
        name: str, start: str, end: str, day: str) -> None:
    entry = report_entry(read(name))
    assert (entry["start"], entry["end"], entry["day"]) == (start, end, day)


def test_offset_original_text_is_kept() -> None:
    assert read("date-offset-previous-day.json").originals == {
        "$.date-range.start-datetime": "2025-03-10T19:00:00-05:00",
        "$.date-range.end-datetime": "2025-03-11T18:59:59-05:00"}


def test_naive_date_is_utc_with_a_warning() -> None:
    result = read("date-no-timezone.json")
    assert result.report.start.tzinfo is dt.UTC
    assert [w.path for w in result.warnings] == ["$.date-range.start-datetime",
                                                 "$.date-range.end-datetime"]


@pytest.mark.parametrize(("text", "expected", "problems"), [
    ("2025-03-11T00:00:00Z", "2025-03-11T00:00:00Z", 0),
    ("2025-03-11T00:00:00+00:00", "2025-03-11T00:00:00Z", 0),
    ("2025-03-11T05:30:00+05:30", "2025-03-11T00:00:00Z", 0),
    ("2025-03-11T00:00:00.123456789Z", "2025-03-11T00:00:00.123456Z", 1),
    ("2025-03-11T23:59:60Z", "2025-03-11T23:59:59Z", 1),
    ("2025-03-11T00:00Z", "2025-03-11T00:00:00Z", 1),
    ("2025-03-11", "2025-03-11T00:00:00Z", 2),
    ("2025-03-11T00:00:00", "2025-03-11T00:00:00Z", 1),
])
def test_lenient_datetime(text: str, expected: str, problems: int) -> None:
    parsed = parse_datetime(text)
    assert parsed is not None
    assert format_datetime(parsed.value) == expected
    assert len(parsed.problems) == problems


@pytest.mark.parametrize("text", ["yesterday", "2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z", ""])
def test_not_a_datetime(text: str) -> None:
    assert parse_datetime(text) is None
