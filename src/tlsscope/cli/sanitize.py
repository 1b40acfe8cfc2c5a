"""Make report-sourced text safe to show on a terminal: no control sequences get through.

Reports come from the internet: an organisation name may carry ANSI escapes, a carriage return
that overwrites the line, or bidirectional overrides that reorder it. Each such character is
shown as a visible escape instead (`\\x1b`, `\\u202e`).
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def safe(text: object) -> str:
    return _UNSAFE.sub(_escape, str(text))
