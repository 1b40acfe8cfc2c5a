"""The reader over containers: caps (bomb guard), nesting, declared types, real mails."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from tlsscope.parse import Outcome, read_input
from tlsscope.settings import Settings

FIX = Path(__file__).parents[1] / "fixtures"
REPORT = (FIX / "quirks" / "pretty-sorted.json").read_bytes()


def test_gzip_bomb_is_stopped_at_the_cap() -> None:
    bomb = gzip.compress(b"{" + b" " * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 200_000
    result = read_input(bomb, "bomb.gz", settings=Settings(max_decompressed_bytes=1024 * 1024))
    assert result.outcome is Outcome.REJECTED
    assert [e.code for e in result.errors] == ["decompressed_too_large"]
    assert "1,048,576" in result.errors[0].message


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_bomb_is_refused_by_declared_size() -> None:
    bomb = _zip("r.json", b"0" * (8 * 1024 * 1024))
    result = read_input(bomb, "bomb.zip", settings=Settings(max_decompressed_bytes=1024 * 1024))
    assert [e.code for e in result.errors] == ["decompressed_too_large"]
    assert "zip member 'r.json'" in result.errors[0].path


def test_zip_member_that_lies_about_its_size_is_stopped_while_read() -> None:
    honest = _zip("r.json", b"0" * (4 * 1024 * 1024))
    # patch the declared uncompressed size in both headers to 100 bytes
    lying = bytearray(honest)
    local = lying.find(b"PK\x03\x04")
    lying[local + 22:local + 26] = (100).to_bytes(4, "little")
    central = lying.find(b"PK\x01\x02")
    lying[central + 24:central + 28] = (100).to_bytes(4, "little")
    result = read_input(bytes(lying), "lying.zip",
                        settings=Settings(max_decompressed_bytes=1024 * 1024))
    assert result.outcome is Outcome.REJECTED
    assert result.errors[0].code in {"decompressed_too_large", "corrupt_zip"}


def test_input_over_the_raw_cap_is_rejected_unread() -> None:
    result = read_input(REPORT, "big.json", settings=Settings(max_input_bytes=100))
    assert [e.code for e in result.errors] == ["input_too_large"]


def test_nesting_is_bounded() -> None:
    data = REPORT
    for _ in range(12):
        data = gzip.compress(data, mtime=0)
    result = read_input(data, "deep.gz")
    assert result.outcome is Outcome.NOT_A_REPORT
    assert "nested too deeply" in result.warnings[0].message


def test_declared_type_disagreeing_with_content_is_a_warning() -> None:
    result = read_input(REPORT, "post", declared_type="application/tlsrpt+gzip")
    assert result.outcome is Outcome.ACCEPTED
    assert [w.code for w in result.warnings] == ["declared_type_mismatch"]
    plain = read_input(REPORT, "post", declared_type="application/tlsrpt+json; charset=utf-8")
    assert plain.warnings == []
    generic = read_input(gzip.compress(REPORT), "post", declared_type="application/octet-stream")
    assert [w.code for w in generic.warnings] == ["nonstandard_media_type"]


def test_real_mails_have_clean_cross_checks() -> None:
    for name in ("google-parsedmarc-relayed-with-banner.eml", "google-tlsrpt-digest-success-1.eml",
                 "microsoft-tlsrpt-digest-success.eml"):
        result = read_input((FIX / "real" / name).read_bytes(), name, filename=name)
        assert result.outcome is Outcome.ACCEPTED, name
        assert result.warnings == [] and result.reports[0].warnings == [], name
        assert result.reports[0].location == "part 2"


def test_semisynthetic_mail_envelope_disagrees_with_its_json() -> None:
    name = "google-tlsrpt-digest-failure-semisynthetic.eml"
    result = read_input((FIX / "real" / name).read_bytes(), name)
    codes = [w.code for w in result.reports[0].warnings]
    assert codes == ["subject_report_id_mismatch", "filename_mismatch"]


def test_forwarded_report_location_and_headers() -> None:
    data = (FIX / "quirks" / "mail-forwarded-two.eml").read_bytes()
    result = read_input(data, "fwd.eml")
    assert [r.location for r in result.reports] == ["part 1(forwarded).2", "part 2(forwarded).2"]
    assert [r.report.report_id for r in result.reports] == [
        "2025-03-11T00:00:00Z_example.com", "other-day"]


def test_one_bad_part_keeps_the_good_report() -> None:
    data = (FIX / "quirks" / "mail-with-bad-report.eml").read_bytes()
    result = read_input(data, "mixed.eml")
    assert result.outcome is Outcome.REJECTED
    assert len(result.reports) == 1
    assert result.errors[0].path.startswith("part 3 line 1")


def test_reader_never_raises_on_garbage() -> None:
    for blob in (b"\x00" * 10, b"PK\x03\x04garbage", b"\x1f\x8bgarbage", b"From x\n\nnothing",
                 b"Subject: x\n\nbody", b"[1, 2]", b"{}", b"[{}]", b"\xff\xfe{\x00"):
        result = read_input(blob, "garbage")
        assert result.outcome in (Outcome.REJECTED, Outcome.NOT_A_REPORT), blob


@pytest.mark.parametrize("header", ["<script>alert(1)</script>", "=cmd|' /c calc'!a0",
                                    "exa mple.com", "a" * 5000])
def test_a_tls_report_domain_header_that_is_not_a_domain_name_quarantines_the_mail(
        header: str) -> None:
    mail = (FIX / "real" / "google-tlsrpt-digest-success-1.eml").read_bytes()
    assert b"TLS-Report-Domain: example.com" in mail
    bad = mail.replace(b"TLS-Report-Domain: example.com",
                       b"TLS-Report-Domain: " + header.encode())
    result = read_input(bad, "hostile.eml")
    assert result.outcome is Outcome.REJECTED and not result.reports
    [problem] = result.errors
    assert problem.code == "invalid_report_domain" and len(problem.message) < 300
    assert read_input(mail.replace(b"TLS-Report-Domain: example.com",
                                   b"TLS-Report-Domain: Example.COM."), "ok.eml").reports
