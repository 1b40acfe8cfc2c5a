"""What became of inputs: the receipts the store gives and the totals of a batch.

    Outcome        accepted | duplicate | rejected | not_a_report
    Saved          one input, as stored (the answer behind every 2xx / 250 / exit 0)
    Retry          one input not stored: the sender is to send it again (503, 451, exit 75)
    DkimVerdict    what DKIM said of a mailed input (receive/dkim.py), stored with it
    IngestTotals   a batch of them, as `ingest` prints them

No I/O and no database: a client that only hands an input over to `tlsscope serve`
(`ingest -` from an MTA pipe) shows the same receipt without loading the store.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import msgspec


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    NOT_A_REPORT = "not_a_report"


class Saved(msgspec.Struct, frozen=True):
    """Built by keyword (the order of the fields is no API; it only makes pickling over the
    writer's pipe quick: positional, unlike a kw_only Struct's)."""

    digest: str
    source: str
    outcome: Outcome
    stored: int = 0  # reports stored for the first time
    repeated: int = 0  # reports already stored (duplicates and conflicts)
    conflicts: int = 0
    reasons: list[str] = msgspec.field(default_factory=list)  # errors, for a rejected input
    refused: bool = False  # not stored: about a domain this installation does not accept


class Retry(msgspec.Struct, frozen=True):
    """Not stored, and not refused either: the sender is to try again later (the store is
    unavailable, or a DKIM key that is required could not be looked up)."""

    reason: str


Receipt = Saved | Retry  # what a writer answers for each input handed to it


class DkimVerdict(NamedTuple):
    result: str  # pass | fail | none | temperror (a key lookup got no answer)
    domain: str | None
    aligned: bool
    tlsrpt_key: bool | None
    detail: str

    @property
    def passed(self) -> bool:
        """A signature verified and is aligned with the submitter (RFC 8460 §3)."""
        return self.result == "pass" and self.aligned


class Rejected(NamedTuple):
    source: str
    reasons: list[str]


class IngestTotals(msgspec.Struct, kw_only=True):
    inputs: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    not_a_report: int = 0
    reports_stored: int = 0
    reports_repeated: int = 0
    conflicts: int = 0
    rejections: list[Rejected] = msgspec.field(default_factory=list)

    def add(self, saved: Saved) -> None:
        self.inputs += 1
        outcome = saved.outcome
        if outcome is Outcome.ACCEPTED:
            self.accepted += 1
        elif outcome is Outcome.DUPLICATE:
            self.duplicate += 1
        elif outcome is Outcome.REJECTED:
            self.rejected += 1
            self.rejections.append(Rejected(source=saved.source, reasons=saved.reasons))
        else:
            self.not_a_report += 1
        self.reports_stored += saved.stored
        self.reports_repeated += saved.repeated
        self.conflicts += saved.conflicts
