"""Which days a question is about (app/windows.py): the last N days up to `until`, `since`
moving the first day, and days given as text; a wrong one is `Invalid`, naming the field."""

from __future__ import annotations

import datetime as dt

import pytest

from tlsscope.app.windows import parse_day, window
from tlsscope.errors import Invalid

UNTIL = dt.date(2026, 3, 14)


def test_the_last_n_days_up_to_until_both_ends_included() -> None:
    assert window(7, until=UNTIL) == (dt.date(2026, 3, 8), UNTIL)
    assert window(1, until=UNTIL) == (UNTIL, UNTIL)
    today = dt.datetime.now(dt.UTC).date()
    assert window(30) == (today - dt.timedelta(days=29), today)


def test_since_moves_the_first_day_either_way() -> None:
    assert window(7, dt.date(2026, 3, 1), UNTIL) == (dt.date(2026, 3, 1), UNTIL)
    assert window(30, dt.date(2026, 3, 10), UNTIL) == (dt.date(2026, 3, 10), UNTIL)
    assert window(7, UNTIL, UNTIL) == (UNTIL, UNTIL)


def test_a_first_day_after_the_last_is_invalid() -> None:
    with pytest.raises(Invalid) as raised:
        window(7, UNTIL + dt.timedelta(days=1), UNTIL)
    assert raised.value.field == "since"
    assert raised.value.message == "since must not be after until"


def test_days_as_text() -> None:
    assert parse_day("2026-03-14", "until") == UNTIL
    assert parse_day("  2026-03-14 ", "until") == UNTIL
    assert parse_day("", "since") is None and parse_day("   ", "since") is None


def test_a_day_that_is_not_one_names_its_field() -> None:
    for text in ("2026-02-30", "yesterday", "14/03/2026"):
        with pytest.raises(Invalid) as raised:
            parse_day(text, "until")
        assert raised.value.field == "until"
        assert raised.value.message == f"until: {text!r} is not a date (YYYY-MM-DD)"
    with pytest.raises(Invalid) as raised:
        parse_day("x" * 100, "since")
    assert raised.value.message == f"since: {'x' * 40!r} is not a date (YYYY-MM-DD)"


def test_form_dates() -> None:
    assert parse_day("", "since") is None
    assert str(parse_day("2026-11-01", "since")) == "2026-11-01"
    with pytest.raises(Exception, match="since: '2026-02-30' is not a date"):
        parse_day("2026-02-30", "since")
