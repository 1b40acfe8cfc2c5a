"""A clock the test moves by hand (`clock.now += ...`), for what asks the time."""

from __future__ import annotations

import datetime as dt


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now
