"""One window rule (periods.window), even at the calendar's ends."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from tlsscope.periods import window


def test_the_last_n_days_end_today_or_at_until() -> None:
    today = dt.datetime.now(dt.UTC).date()
    assert window(30) == (today - dt.timedelta(days=29), today)
    assert window(1, dt.date(2026, 3, 1)) == (dt.date(2026, 3, 1), dt.date(2026, 3, 1))
    assert window(0, dt.date(2026, 3, 1)) == (dt.date(2026, 3, 1), dt.date(2026, 3, 1))


def test_a_period_past_year_one_starts_there() -> None:
    assert window(100_000_000) == (dt.date.min, dt.datetime.now(dt.UTC).date())
    assert window(30, dt.date(1, 1, 5)) == (dt.date.min, dt.date(1, 1, 5))


@pytest.mark.server  # runs the CLI as a process
def test_the_cli_takes_absurd_periods_without_a_traceback(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    for args in (["stats", "--days", "100000000"], ["stats", "--until", "0001-01-01"],
                 ["stats", "--until", "9999-12-31"], ["summary", "a.example", "--days", "9" * 9],
                 ["findings", "--until", "2026-12-01", "--days", "1000000"]):
        done = subprocess.run([sys.executable, "-m", "tlsscope", *args, "--db", db],
                              capture_output=True, timeout=120)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        assert b"Traceback" not in done.stderr
