"""Report strings made safe to show anywhere (a terminal, a web page, a log): one rule.

Reports come from the internet. A name may carry ANSI escapes, a carriage return that
overwrites the line, bidirectional overrides that reorder it ("rtl\\u202eelpmaxe.xss" shows
as "rtlssx.example"), zero-width characters that hide a difference, or be 100 KB long (a
table cell that wraps it anywhere froze a browser for 97 s).

    visible(text)          every such control shown as an escape: \\x1b, \\u202e
    shortened(text, most)  visible, and cut to `most` characters with how long it was
"""

from __future__ import annotations

import re

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064"
                       r"\u2066-\u2069\ufeff\ufff9-\ufffb]")
SHOWN = 200  # characters of a report string shown where it is not the page's subject


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def visible(text: object) -> str:
    return _CONTROLS.sub(_escape, str(text))


NAMED = 80  # characters of a name quoted inside a sentence


def cut(text: str, most: int = NAMED) -> str:
    """`text`, or its first `most` characters and an ellipsis (for names inside sentences)."""
    return text if len(text) <= most else f"{text[:most]}…"


def shortened(text: object, most: int = SHOWN) -> str:
    """`text` made visible, cut to `most` characters: "abc… (100,000 characters)"."""
    raw = str(text)
    if len(raw) <= most:
        return visible(raw)
    return f"{visible(raw[:most])}… ({len(raw):,} characters)"
