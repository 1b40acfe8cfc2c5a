"""What became of inputs: the receipts the store gives and the totals of a batch.

    Outcome        accepted | duplicate | rejected | not_a_report
    Saved          one input, as stored (the answer behind every 2xx / 250 / exit 0)
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


class Saved(NamedTuple):
    digest: str
    source: str
    outcome: Outcome
    stored: int  # reports stored for the first time
    repeated: int  # reports already stored (duplicates and conflicts)
    conflicts: int
    reasons: list[str]  # error messages, for a rejected input
    refused: bool = False  # not stored: about a domain this installation does not accept


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
            self.rejections.append(Rejected(saved.source, saved.reasons))
        else:
            self.not_a_report += 1
        self.reports_stored += saved.stored
        self.reports_repeated += saved.repeated
        self.conflicts += saved.conflicts
