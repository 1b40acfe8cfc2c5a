"""Every input that once broke the reader (issue 13) now has a name: a finding with its own
code and the place, never `reader_failure` with a Python exception's text; and every report
the reader accepts is text a store holds and JSON `parse --json` can print."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tlsscope.parse import InputResult, Outcome, read_input
from tlsscope.parse.contract import encode_entry
from tlsscope.parse.mime import MAX_DEPTH
from tlsscope.policy_text import parse_sts_lines, parse_tlsa_strings

FIX = Path(__file__).parents[1] / "fixtures"
BASE = json.loads((FIX / "quirks" / "pretty-sorted.json").read_bytes())


def _doc(change: Any) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(BASE)
    change(doc)
    return doc


def _read(doc: dict[str, Any] | bytes, **raw: str) -> InputResult:
    text = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    for placeholder, literal in raw.items():
        text = text.replace(json.dumps(placeholder).encode(), literal.encode())
    return read_input(text, "hostile.json")


def _errors(result: InputResult) -> list[tuple[str, str]]:
    assert "reader_failure" not in {e.code for e in result.errors}, result.errors
    return [(e.code, e.path) for e in result.errors]


def _printable(result: InputResult) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(encode_entry(result).json.decode("utf-8"))
    return entry


# --- strings no store holds ---------------------------------------------------------------------

@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\u0000", "a\\ud83d", "\\udc00\\ud800"])
def test_nul_and_lone_surrogates_are_replaced_with_the_path(escape: str) -> None:
    result = _read(_doc(lambda d: d["policies"][0]["failure-details"][0].update(
        {"failure-reason-code": "@X@"})), **{"@X@": f'"{escape}"'})
    assert result.outcome is Outcome.ACCEPTED
    (read,) = result.reports
    code = read.report.policies[0].details[0].failure_reason_code
    assert code is not None and "\ufffd" in code and code.encode("utf-8")
    (warning,) = [w for w in read.warnings if w.code == "text_replaced"]
    assert warning.path == "$.policies[0].failure-details[0].failure-reason-code"
    assert "replaced by U+FFFD" in warning.message
    assert _printable(result)["reports"][0]["policies"][0]["failure_details"][0][
        "failure_reason_code"] == code


def test_every_field_and_member_name_is_cleaned() -> None:
    doc = _doc(lambda d: (d.update({"organization-name": "o\ud800", "report-id": "r\x00",
                                    "contact-info": "\udfff", "x-\x00": {"\ud800": ["\x00"]}}),
                          d["policies"][0]["policy"].update({"mx-host": ["\ud800"]}),
                          d["policies"][0]["failure-details"][0].update(
                              {"receiving-mx-hostname": "mx\x00.example.com"})))
    (read,) = _read(doc).reports
    report = read.report
    assert (report.organization_name, report.report_id, report.contact_info) == (
        "o\ufffd", "r\ufffd", "\ufffd")
    assert read.extras == {"$": {"x-\ufffd": {"\ufffd": ["\ufffd"]}}}
    paths = {w.path for w in read.warnings if w.code == "text_replaced"}
    assert paths >= {"$.organization-name", "$.report-id", "$.contact-info", "$.x-\ufffd",
                     "$.policies[0].policy.mx-host[0]",
                     "$.policies[0].failure-details[0].receiving-mx-hostname"}


def test_a_policy_domain_with_nul_is_not_a_domain() -> None:
    result = _read(_doc(lambda d: d["policies"][0]["policy"].update(
        {"policy-domain": "example.com\x00"})))
    assert _errors(result) == [("invalid_policy_domain", "$.policies[0].policy.policy-domain")]
    _printable(result)


def test_a_report_that_is_all_nul_warns_a_few_times_then_counts() -> None:
    rows = [{"result-type": "validation-failure", "failed-session-count": 1,
             "additional-information": "\x00"} for _ in range(50)]
    doc = _doc(lambda d: d["policies"][0].update({"failure-details": rows, "summary": {
        "total-successful-session-count": 0, "total-failure-session-count": 50}}))
    (read,) = _read(doc).reports
    replaced = [w for w in read.warnings if w.code == "text_replaced"]
    assert len(replaced) == 21
    assert replaced[-1].message.startswith("30 more strings")


def test_findings_and_sources_quoting_the_input_are_clean() -> None:
    """A file name of invalid UTF-8 arrives with lone surrogates (os.fsdecode); a JSON member
    name lands in a finding's path."""
    result = read_input(json.dumps({**BASE, "\ud800": 1}).encode(), "odd\udcff.json")
    assert result.outcome is Outcome.ACCEPTED
    assert result.source == "odd\ufffd.json"
    assert "$.\ufffd" in {w.path for w in result.reports[0].warnings}
    _printable(result)


# --- numbers ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("literal", "code"), [
    ("1.0e9999999999999999999", "number_out_of_range"),  # Decimal: InvalidOperation
    ("9" * 5000, "number_out_of_range"),  # past Python's 4,300 digits: ValueError
    ("-" + "9" * 5000, "number_out_of_range"),
    ("9223372036854775808", "invalid_count"),
    ("1e400", "invalid_count"),
])
def test_numbers_no_one_can_read_are_named_with_their_place(literal: str, code: str) -> None:
    result = _read(_doc(lambda d: d["policies"][0]["summary"].update(
        {"total-successful-session-count": "@N@"})), **{"@N@": literal})
    ((found, path),) = _errors(result)
    assert found == code
    if code == "number_out_of_range":
        assert path.startswith("line 1 column ")
        assert "too large (or too long) to be read" in result.errors[0].message
    else:
        assert path == "$.policies[0].summary.total-successful-session-count"
        assert "more than 2^63-1" in result.errors[0].message


def test_counts_that_fit_alone_but_not_together_are_refused() -> None:
    big = 2**62
    result = _read(_doc(lambda d: d["policies"][0]["summary"].update(
        {"total-successful-session-count": big, "total-failure-session-count": big})))
    assert _errors(result) == [("invalid_count", "$.policies")]
    assert "add up to 9,223,372,036,854,775,820" in result.errors[0].message


def test_the_largest_count_is_kept_exactly() -> None:
    result = _read(_doc(lambda d: (d["policies"][0]["summary"].update(
        {"total-successful-session-count": 2**63 - 1 - 12 - 12}))))
    assert result.outcome is Outcome.ACCEPTED
    assert result.reports[0].report.policies[0].summary.total_successful_session_count == (
        2**63 - 25)


# --- nesting ------------------------------------------------------------------------------------

@pytest.mark.parametrize("levels", [65, 1500, 100_000])
def test_deep_json_is_refused_by_name(levels: int) -> None:
    deep = "[" * levels + "]" * levels
    result = _read(_doc(lambda d: d.update({"x-deep": "@D@"})), **{"@D@": deep})
    ((code, path),) = _errors(result)
    assert code == "json_too_deep"
    assert path in ("", "$.x-deep" + "[0]" * 63)  # the 65th level (x-deep is the second)


def test_json_64_levels_deep_is_read() -> None:
    deep = "[" * 63 + "]" * 63
    result = _read(_doc(lambda d: d.update({"x-deep": "@D@"})), **{"@D@": deep})
    assert result.outcome is Outcome.ACCEPTED


@pytest.mark.parametrize("forwarded", [False, True])
@pytest.mark.parametrize("levels", [MAX_DEPTH + 5, 1200, 5000])
def test_deep_mime_is_refused_by_name(levels: int, forwarded: bool) -> None:
    if forwarded:
        data = b"Content-Type: application/json\n\n{}\n"
        for _ in range(levels):
            data = b"Content-Type: message/rfc822\n\n" + data
    else:
        data = b"Content-Type: multipart/mixed; boundary=b0\n\n" + b"".join(
            f"--b{i}\nContent-Type: multipart/mixed; boundary=b{i + 1}\n\n".encode()
            for i in range(levels)) + b"--end\n"
    result = read_input(data, "deep.eml")
    assert [code for code, _ in _errors(result)] == ["mime_too_deep"]


def test_deep_json_in_a_tlsa_policy_string_is_a_warning() -> None:
    deep = "[" * 5000 + "]" * 5000
    result = _read(_doc(lambda d: d["policies"][0]["policy"].update(
        {"policy-type": "tlsa", "policy-string": [deep, "3 1 1 ABCD"]})))
    assert result.outcome is Outcome.ACCEPTED
    (read,) = result.reports
    codes = {(w.code, w.path) for w in read.warnings}
    assert ("tlsa_json_too_deep", "$.policies[0].policy.policy-string") in codes
    assert [str(r) for r in read.report.policies[0].policy.tlsa_records] == ["3 1 1 ABCD"]
    _printable(result)


# --- digits that are not ASCII, dates out of range ----------------------------------------------

@pytest.mark.parametrize("max_age", ["\u00b2", "\u0663\u0663", "9" * 5000, "\uff11"])
def test_max_age_that_is_not_ascii_digits_is_a_warning(max_age: str) -> None:
    policy = parse_sts_lines(("version: STSv1", "mode: enforce", "mx: mx.example.com",
                              f"max_age: {max_age}"))
    assert policy.max_age is None
    assert [code for code, _ in policy.problems] == ["sts_policy_max_age"]
    assert len(policy.problems[0][1]) < 200


@pytest.mark.parametrize("record", ["\u00b2 1 1 AB", "9" * 5000 + " 1 1 AB", "3 \u0661 1 AB"])
def test_tlsa_fields_that_are_not_ascii_digits_are_invalid_records(record: str) -> None:
    parsed = parse_tlsa_strings((record,))
    assert parsed.records == ()
    assert [code for code, _ in parsed.problems] == ["tlsa_record_invalid"]


@pytest.mark.parametrize("when", ["9999-12-31T23:30:00-05:00", "0001-01-01T00:00:00+05:00",
                                  "9999-12-31 23:30:00-0500"])
def test_a_date_out_of_range_in_utc_is_named(when: str) -> None:
    result = _read(_doc(lambda d: d["date-range"].update({"end-datetime": when})))
    assert _errors(result) == [("date_out_of_range", "$.date-range.end-datetime")]


def test_a_long_date_time_is_refused_quickly() -> None:
    """The date pattern's two optional runs of spaces backtracked: 1 MB took most of an hour."""
    long = "2025-03-11" + " " * 1_000_000 + "x"
    started = time.perf_counter()
    result = _read(_doc(lambda d: d["date-range"].update({"start-datetime": long})))
    assert time.perf_counter() - started < 5
    assert _errors(result) == [("invalid_datetime", "$.date-range.start-datetime")]
    assert len(result.errors[0].message) < 200


def test_a_file_name_with_a_huge_window_is_just_unconventional() -> None:
    name = "mailer.example!example.com!" + "9" * 5000 + "!1!x.json"
    result = read_input(json.dumps(BASE).encode(), name, filename=name)
    assert result.outcome is Outcome.ACCEPTED
