"""What the reader says about an input or a report: errors and warnings that name the field.

A `Finding` is data, not an exception: it carries a stable `code` (for programs), a `message`
(for people) and a `path` (where: a JSON path such as `$.policies[0].summary`, or a place in
the input such as `part 2` or `line 3 column 7`).
"""

from __future__ import annotations

import enum

import msgspec


class Severity(enum.StrEnum):
    ERROR = "error"  # the report (or input) is rejected
    WARNING = "warning"  # the report is kept; something about it deviates or disagrees


class Finding(msgspec.Struct, frozen=True):
    code: str
    message: str
    path: str = ""
    severity: Severity = Severity.WARNING

    def at(self, prefix: str) -> Finding:
        """The same finding, located inside a larger input (e.g. a MIME part)."""
        path = f"{prefix} {self.path}".strip() if prefix else self.path
        return Finding(self.code, self.message, path, self.severity)


def warning(code: str, message: str, path: str = "") -> Finding:
    return Finding(code, message, path, Severity.WARNING)


def error(code: str, message: str, path: str = "") -> Finding:
    return Finding(code, message, path, Severity.ERROR)
