"""What "the last N days" means, everywhere (CLI, pages, API): the N days up to `until`
(default: today, UTC), both ends included. One rule, in one place."""

from __future__ import annotations

import datetime as dt


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def window(days: int, until: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """(first, last) day of the period. A period reaching before year 1 starts on 0001-01-01
    (`--days 100000000` is a long period, not an error)."""
    last = until or today()
    span = max(1, days) - 1
    if span >= (last - dt.date.min).days:
        return dt.date.min, last
    return last - dt.timedelta(days=span), last
