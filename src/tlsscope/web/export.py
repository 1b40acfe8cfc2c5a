"""CSV of the exports (tlsscope.app.exports makes their rows).

CSV cells are protected against formula injection (OWASP): a cell that a spreadsheet would
read as a formula (starting with =, +, -, @, tab or carriage return) gets a leading quote.
Report strings are attacker-controlled; a sender could otherwise plant `=HYPERLINK(...)`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA):
        # Numbers stay numbers: a negative count is data, not a formula.
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue().encode("utf-8")
