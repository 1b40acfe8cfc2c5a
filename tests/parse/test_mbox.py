from __future__ import annotations

import io
import re
import time
from pathlib import Path

from tlsscope.parse import read_input
from tlsscope.parse.mbox import is_separator, split_mbox

FIX = Path(__file__).parents[1] / "fixtures"


def test_split_and_unquote() -> None:
    data = (b"From a@x Mon Jan  1 00:00:00 2025\nSubject: one\n\nbody\n>From here\n\n"
            b"From b@x Mon Jan  1 00:00:00 2025\nSubject: two\n\nFrom inside a line\n")
    messages = list(split_mbox(data.splitlines(keepends=True), cap=10_000))
    assert [m.number for m in messages] == [1, 2]
    assert messages[0].data == b"Subject: one\n\nbody\nFrom here\n\n"
    assert messages[1].data is not None and b"From inside" in messages[1].data


def test_oversize_message_is_skipped_not_buffered() -> None:
    lines = [b"From a@x\n", b"Subject: big\n", b"\n"] + [b"x" * 99 + b"\n"] * 100
    lines += [b"\n", b"From b@x Mon Jan  1 00:00:00 2025\n", b"Subject: small\n", b"\n", b"ok\n"]
    first, second = split_mbox(lines, cap=1000)
    assert first.data is None and first.size > 1000
    assert second.data == b"Subject: small\n\nok\n"


def test_text_before_the_first_from_line_is_ignored() -> None:
    assert list(split_mbox([b"junk\n"], cap=100)) == []


def test_separator_test_is_the_old_pattern_without_its_backtracking() -> None:
    pattern = re.compile(rb"From \S+.*\d")  # the pattern it replaces, quadratic on long lines
    for line in [b"From a@x Mon Jan  1 00:00:00 2025\n", b"From here on\n", b"From a1\n",
                 b"From 1\n", b"From  a 1\n", b"From \tx 2\n", b"From a\r1\n", b"From x",
                 b"From ab\n1", b"Frog a 1\n", b"From \n", b"From a \n"]:
        assert is_separator(line) == (pattern.match(line) is not None), line


def test_a_long_from_line_without_a_date_is_read_in_linear_time() -> None:
    """Issue 13: a 60 KB `From ` line without a digit took 49 s (the pattern backtracked)."""
    mbox = (FIX / "quirks" / "reports.mbox").read_bytes()
    long_line = b"From " + b"a" * 1_000_000 + b"\n"
    first_end = mbox.index(b"\nFrom ", 1) + 1
    data = mbox[:first_end] + long_line + b"\n" + mbox[first_end:]
    started = time.perf_counter()
    messages = list(split_mbox(io.BytesIO(data), cap=10_000_000))
    result = read_input(data, "long-from.mbox")
    elapsed = time.perf_counter() - started
    assert elapsed < 5, elapsed  # the old pattern: about 14 minutes for 1 MB (49 s for 60 KB)
    assert len(messages) == 3
    assert messages[0].data is not None and messages[0].data.endswith(long_line + b"\n")
    assert [r.report.report_id for r in result.reports] == [
        r.report.report_id for r in read_input(mbox, "reports.mbox").reports]
