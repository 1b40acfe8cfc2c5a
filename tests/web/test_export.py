"""CSV exports (web/export.py), no server: cells safe from formula injection, quoting."""

from __future__ import annotations

import pytest

from tlsscope.web.export import cell, to_csv


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("-5", "-5"), ("+1.5", "+1.5"),
    ("Google Inc.", "Google Inc."), (None, ""), (42, "42"),
])
def test_csv_cells_cannot_be_formulas(value: object, expected: str) -> None:
    assert cell(value) == expected


def test_csv_quotes_what_needs_quoting() -> None:
    text = to_csv(("a", "b"), [("x,y", 'say "hi"\nbye')]).decode()
    assert text == 'a,b\r\n"x,y","say ""hi""\nbye"\r\n'
