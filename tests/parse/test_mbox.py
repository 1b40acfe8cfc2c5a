from __future__ import annotations

from tlsscope.parse.mbox import split_mbox


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
