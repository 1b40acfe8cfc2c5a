"""What the reader returns for one input: its outcome, findings and the reports it carried."""

from __future__ import annotations

from typing import Any

import msgspec

from tlsscope.notes import Note
from tlsscope.receipts import Outcome as Outcome  # its home is tlsscope.receipts
from tlsscope.report import Report


class ReadReport(msgspec.Struct, kw_only=True):
    """A report the reader accepted, with what it noticed about it."""

    report: Report
    warnings: list[Note] = msgspec.field(default_factory=list)
    extras: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """Unknown members, by the JSON path of the object that held them."""
    originals: dict[str, Any] = msgspec.field(default_factory=dict)
    """Values as the sender wrote them, by JSON path, where the reader normalised them."""
    location: str = ""
    """Where in the input it was found (a MIME part, a zip member); empty for a bare report."""
    duplicate: bool = False


class InputResult(msgspec.Struct, kw_only=True):
    """One input (a file, a mail, an HTTP body) after reading."""

    source: str
    kind: str = ""
    """What the content turned out to be: json, gzip, zip, mail, ... (by magic bytes)."""
    errors: list[Note] = msgspec.field(default_factory=list)
    warnings: list[Note] = msgspec.field(default_factory=list)
    reports: list[ReadReport] = msgspec.field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        if self.errors:
            return Outcome.REJECTED
        if not self.reports:
            return Outcome.NOT_A_REPORT
        if all(r.duplicate for r in self.reports):
            return Outcome.DUPLICATE
        return Outcome.ACCEPTED


class DuplicateTracker:
    """Marks reports seen before in one run: same organisation and report-id (RFC 8460 §4.4)."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def mark(self, result: InputResult) -> InputResult:
        for read, seen in zip(result.reports, self.seen([r.report.key for r in result.reports]),
                              strict=True):
            read.duplicate = seen
        return result

    def seen(self, keys: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> list[bool]:
        """For each key, was it seen before (earlier in this input included)? Records them."""
        out = []
        for key in keys:
            out.append(key in self._seen)
            self._seen.add(key)
        return out
