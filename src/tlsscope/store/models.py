"""What the store hands out: domain objects, never rows.

The facts the analyses read (stats, failure groups) are defined in `tlsscope.facts`
and handed out from here as well.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from tlsscope.facts import (
    Breakdown,
    DayTotal,
    DomainFacts,
    DomainStats,
    FailureGroup,
    FailureRow,
    PolicyDay,
)
from tlsscope.notes import Note
from tlsscope.report import Report

__all__ = ["Breakdown", "DayTotal", "DomainFacts", "DomainStats", "FailureGroup", "FailureRow",
           "PolicyDay", "Repeat", "ReportSummary", "StoredInput", "StoredReport"]


class ReportSummary(msgspec.Struct, kw_only=True):
    key: str
    organization_name: str
    report_id: str
    day: dt.date
    start: dt.datetime
    end: dt.datetime
    domains: list[str]
    successful: int
    failed: int
    warnings: int
    input_sha256: str


class StoredInput(msgspec.Struct, kw_only=True):
    sha256: str
    source: str
    received_at: dt.datetime
    size: int
    kind: str
    outcome: str
    errors: list[Note]
    warnings: list[Note]
    arrivals: int = 1
    kept: bool = True
    """False once its raw bytes were dropped (junk over its sender's quarantine budget)."""
    dkim_result: str | None = None
    """pass, fail or none for a mail whose DKIM was checked (RFC 8460 §3); else None."""
    dkim_domain: str | None = None
    dkim_aligned: bool | None = None
    dkim_tlsrpt_key: bool | None = None
    dkim_detail: str | None = None


class Repeat(msgspec.Struct, kw_only=True):
    kind: str  # duplicate | conflict
    input_sha256: str
    seen_at: dt.datetime


class StoredReport(msgspec.Struct, kw_only=True):
    key: str
    report: Report
    warnings: list[Note]
    extras: dict[str, Any]
    originals: dict[str, Any]
    location: str
    counted: list[bool]
    stored_at: dt.datetime
    source: StoredInput
    repeats: list[Repeat]
    provenance: Provenance | None = None


class Provenance(msgspec.Struct, kw_only=True):
    """How a report came and what that is worth as evidence (docs/receiving.md)."""

    channel: str  # https | smtp | lmtp | imap | file | stdin
    peer: str  # the submitting address ("" for files, stdin and IMAP)
    authenticated: bool  # operator's file or stdin, or mail with a passing aligned DKIM
    reporter_new: bool  # the organisation had not reported (one of) its domains before
