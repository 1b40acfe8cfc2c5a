"""Text every store can hold: valid Unicode, no NUL.

JSON can spell what no database stores: a lone surrogate (`"\\ud800"`: not Unicode text, so not
UTF-8 either) and NUL (`"\\u0000"`, which PostgreSQL text refuses). One such string used to fail
its whole batch for ever. The reader replaces each by U+FFFD, with a warning that names the
JSON path (`scrub`), before anything else looks at the report; `clean` is the last guard for
every other string on its way to a store (sources, locations, findings).

Only JSON escapes make such characters (raw surrogates are not UTF-8, a raw NUL is not JSON),
so `suspect` screens the bytes first: a report without `\\u0000` or `\\ud8..`-`\\udf..` escapes
(and not in UTF-16 or UTF-32, which hold NUL bytes) is never walked.
"""

from __future__ import annotations

import re
from typing import Any

from tlsscope.notes import Note

_BAD = re.compile("[\x00\ud800-\udfff]")
_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")
REPLACEMENT = "\ufffd"
MAX_WARNINGS = 20  # per report: past it, one warning counts the rest


def suspect(data: bytes) -> bool:
    """Could JSON text decode to strings with NUL or lone surrogates?"""
    return b"\x00" in data or (b"\\u" in data and _ESCAPE.search(data) is not None)


def clean(text: str) -> str:
    """`text` with every NUL and lone surrogate replaced by U+FFFD (itself when it has none)."""
    return _BAD.sub(REPLACEMENT, text) if _BAD.search(text) else text


MAX_PATH = 512  # characters of a finding's path (a zip member's or a JSON member's name)
MAX_MESSAGE = 2_000


def bounded(text: str, most: int) -> str:
    """`text`, or its first `most` characters and how long it was: a finding quotes the
    input (member names, header values), and is echoed in HTTP answers, pages and logs."""
    return text if len(text) <= most else f"{text[:most]}… ({len(text):,} characters)"


def clean_finding(finding: Note) -> Note:
    message, path = finding.message, finding.path
    if len(message) > MAX_MESSAGE or len(path) > MAX_PATH:
        message, path = bounded(message, MAX_MESSAGE), bounded(path, MAX_PATH)
    elif not (_BAD.search(message) or _BAD.search(path)):
        return finding
    return Note(finding.code, clean(message), clean(path), finding.severity)


def _describe(text: str) -> str:
    bad = _BAD.findall(text)
    first = "a NUL" if bad[0] == "\x00" else f"a lone surrogate (U+{ord(bad[0]):04X})"
    more = f" and {len(bad) - 1} more such characters" if len(bad) > 1 else ""
    return f"{first}{more} replaced by U+FFFD: not valid text for a database"


class Scrubbed:
    """Where `scrub` replaced characters: (JSON path, what) for the first few, and a count."""

    __slots__ = ("count", "places")

    def __init__(self) -> None:
        self.places: list[tuple[str, str]] = []
        self.count = 0

    def note(self, path: str, text: str) -> None:
        self.count += 1
        if len(self.places) < MAX_WARNINGS:
            self.places.append((clean(path), _describe(text)))


def scrub(value: Any, path: str, found: Scrubbed) -> Any:
    """A decoded JSON value with its strings and member names cleaned, in place where it can.

    Called on values whose nesting is bounded (the reader refuses deeper JSON first).
    """
    if isinstance(value, str):
        if _BAD.search(value):
            found.note(path, value)
            return _BAD.sub(REPLACEMENT, value)
        return value
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                if _BAD.search(item):
                    found.note(f"{path}[{i}]", item)
                    value[i] = _BAD.sub(REPLACEMENT, item)
            elif isinstance(item, list | dict):
                scrub(item, f"{path}[{i}]", found)
        return value
    if isinstance(value, dict):
        if any(_BAD.search(key) for key in value):
            _clean_keys(value, path, found)
        for key, item in value.items():
            if isinstance(item, str):
                if _BAD.search(item):
                    found.note(f"{path}.{key}", item)
                    value[key] = _BAD.sub(REPLACEMENT, item)
            elif isinstance(item, list | dict):
                scrub(item, f"{path}.{key}", found)
    return value


def _clean_keys(obj: dict[str, Any], path: str, found: Scrubbed) -> None:
    """Member names, cleaned in their order; a cleaned name that is taken gets more U+FFFD."""
    items = list(obj.items())
    names = set(obj)
    obj.clear()
    for key, item in items:
        if _BAD.search(key):
            found.note(f"{path}.{key}", key)
            new = _BAD.sub(REPLACEMENT, key)
            while new in obj or new in names:
                new += REPLACEMENT
            key = new
        obj[key] = item
