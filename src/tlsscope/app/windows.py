"""Which days a question is about: one rule for the CLI, the pages and the API.

"The last N days" are the N days up to `until` (default: today, UTC), both ends included
(tlsscope.periods). `since` moves the first day; a first day after the last is `Invalid`.
"""

from __future__ import annotations

import datetime as dt

from tlsscope import periods
from tlsscope.errors import Invalid

MAX_DAYS = 3660  # ten years: what a page or the API may ask for
SPARK_MAX_DAYS = 366  # the overview draws one point per day
today = periods.today


def window(days: int, since: dt.date | None = None,
           until: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """(first, last) day of the period asked for."""
    first, last = periods.window(days, until)
    first = since or first
    if first > last:
        raise Invalid("since", "since must not be after until")
    return first, last


def parse_day(text: str, field: str) -> dt.date | None:
    """A day given as text (a form's YYYY-MM-DD; "" is none)."""
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(field, f"{field}: {text[:40]!r} is not a date (YYYY-MM-DD)") from None
