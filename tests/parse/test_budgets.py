"""Budgets: what one input may inflate to in all, and how many rows one report may have.

The bombs are generated small: a gzip of zeros is made once and reused, and the sizes are
scaled down through the settings (the defaults are 50 MiB per member, 100 MiB per input).
"""

from __future__ import annotations

import gzip
import io
import json
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from tlsscope.parse import Outcome, read_input
from tlsscope.settings import Settings

FIX = Path(__file__).parents[1] / "fixtures"
REPORT = (FIX / "quirks" / "pretty-sorted.json").read_bytes()
MiB = 1024 * 1024


def _gzip_of_zeros(size: int) -> bytes:
    """A gzip stream that inflates to `size` zero bytes, made in 1 MiB steps."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MiB)
    parts = [deflate.compress(block) for _ in range(size // MiB)]
    return b"".join(parts) + deflate.compress(bytes(size % MiB)) + deflate.flush()


def _zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_of_gzips_stops_at_the_input_budget() -> None:
    """A 335 KB zip of 1,000 gzips inflated 50 GB (each gzip under the per-member cap)."""
    bomb = _gzip_of_zeros(4 * MiB)
    data = _zip([(f"m{i}.json.gz", bomb) for i in range(200)])
    settings = Settings(max_decompressed_bytes=5 * MiB, max_total_decompressed_bytes=20 * MiB)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = read_input(data, "bomb.zip", settings=settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 10
    assert result.outcome is Outcome.REJECTED
    ((code, path),) = [(e.code, e.path) for e in result.errors]
    assert code == "decompressed_budget_exceeded"
    assert path == "zip:m4.json.gz"  # the fifth member: 4 x 4 MiB spent, 4 MiB left
    assert "20,971,520 bytes across all its members and layers" in result.errors[0].message
    assert peak < 3 * 20 * MiB, peak  # one member at a time: never all 800 MiB


def test_zip_members_that_declare_more_than_the_budget_are_not_inflated() -> None:
    """20 members x 50 MiB took 1.07 GB: declared sizes are added up before any is read."""
    data = _zip([(f"m{i}.json", bytes(4 * MiB)) for i in range(20)], zipfile.ZIP_DEFLATED)
    started = time.perf_counter()
    result = read_input(data, "bomb.zip", settings=Settings(
        max_decompressed_bytes=5 * MiB, max_total_decompressed_bytes=20 * MiB))
    assert time.perf_counter() - started < 1
    assert [e.code for e in result.errors] == ["decompressed_budget_exceeded"]
    assert "declare more than" in result.errors[0].message


def test_gzip_layers_draw_on_one_budget() -> None:
    inner = _gzip_of_zeros(3 * MiB)
    data = gzip.compress(inner, mtime=0)
    settings = Settings(max_decompressed_bytes=4 * MiB, max_total_decompressed_bytes=2 * MiB)
    result = read_input(data, "layers.gz", settings=settings)
    assert [e.code for e in result.errors] == ["decompressed_budget_exceeded"]
    roomy = Settings(max_decompressed_bytes=4 * MiB, max_total_decompressed_bytes=8 * MiB)
    assert [e.code for e in read_input(data, "layers.gz", settings=roomy).errors] == []


def test_the_per_member_cap_still_names_itself() -> None:
    result = read_input(_gzip_of_zeros(3 * MiB), "big.gz", settings=Settings(
        max_decompressed_bytes=2 * MiB, max_total_decompressed_bytes=100 * MiB))
    assert [e.code for e in result.errors] == ["decompressed_too_large"]


def test_an_archive_of_reports_within_the_budget_is_read() -> None:
    reports = [json.dumps({**json.loads(REPORT), "report-id": f"r{i}"}).encode()
               for i in range(30)]
    data = _zip([(f"r{i}.json.gz", gzip.compress(r, mtime=0)) for i, r in enumerate(reports)])
    result = read_input(data, "archive.zip", settings=Settings(
        max_total_decompressed_bytes=40 * len(REPORT)))
    assert result.outcome is Outcome.ACCEPTED and len(result.reports) == 30
    tight = read_input(data, "archive.zip", settings=Settings(
        max_total_decompressed_bytes=10 * len(REPORT)))
    assert [e.code for e in tight.errors] == ["decompressed_budget_exceeded"]


def _rows_report(rows: int, unknown_member: bool = False) -> bytes:
    doc = json.loads(REPORT)
    doc["policies"][0]["failure-details"] = "@ROWS@"
    if unknown_member:  # sends it down the tolerant path
        doc["x-vendor"] = 1
    return json.dumps(doc).encode().replace(b'"@ROWS@"', b"[" + b"{}," * (rows - 1) + b"{}]")


@pytest.mark.parametrize("tolerant", [False, True])
def test_a_million_empty_failure_rows_are_refused_with_the_count(tolerant: bool) -> None:
    """A 3.3 KB gzip of 1,000,000 empty rows blocked intake 25 s and added ~600 MB."""
    data = gzip.compress(_rows_report(1_000_000, tolerant), mtime=0)
    assert len(data) < 10_000
    started = time.perf_counter()
    result = read_input(data, "rows.json.gz")
    assert time.perf_counter() - started < 10
    assert [(e.code, e.path) for e in result.errors] == [("too_many_rows", "$.policies")]
    assert "1,000,000 failure-details rows, more than max_failure_details (10,000)" in \
        result.errors[0].message


@pytest.mark.parametrize("tolerant", [False, True])
def test_the_row_cap_is_a_setting(tolerant: bool) -> None:
    data = _rows_report(50, tolerant)
    assert read_input(data, "r.json", settings=Settings(max_failure_details=50)).outcome \
        is Outcome.ACCEPTED
    refused = read_input(data, "r.json", settings=Settings(max_failure_details=49))
    assert [e.code for e in refused.errors] == ["too_many_rows"]


def test_too_many_policies_are_refused_too() -> None:
    doc = json.loads(REPORT)
    doc["policies"] = doc["policies"] * 30
    result = read_input(json.dumps(doc).encode(), "p.json",
                        settings=Settings(max_failure_details=20))
    assert [e.code for e in result.errors] == ["too_many_rows"]
    assert "30 policies" in result.errors[0].message


def test_a_mail_of_many_empty_parts_makes_a_few_notes_not_one_each() -> None:
    parts = b"".join(b"--b\nContent-Type: application/x\n\nx\n" for _ in range(5000))
    data = b"Content-Type: multipart/mixed; boundary=b\n\n" + parts + b"--b--\n"
    result = read_input(data, "parts.eml")
    assert result.outcome is Outcome.NOT_A_REPORT
    assert len(result.warnings) == 101
    assert result.warnings[-1].message == "not a TLS-RPT report: 4,900 more parts like these"
