"""Absurd lengths (issue 13): a string past what anyone writes is kept with a warning that
names the path; past max_field_chars the report is refused, naming the path and the length."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tlsscope.parse.reader import read_input
from tlsscope.settings import Settings

GOOD = json.loads((Path(__file__).parents[1] / "fixtures" / "real"
                   / "rfc8460-appendix-example.json").read_bytes())


def _read(doc: dict[str, Any], **settings: Any) -> Any:
    return read_input(json.dumps(doc).encode(), "long.json", settings=Settings(**settings))


def _codes(findings: list[Any]) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in findings]


def test_an_ordinary_report_has_no_length_warning() -> None:
    result = _read(GOOD)
    assert result.reports
    assert "long_value" not in {f.code for f in result.reports[0].warnings}


def test_a_long_name_is_kept_with_a_warning_naming_its_path() -> None:
    doc = {**GOOD, "organization-name": "x" * 5_000}
    result = _read(doc)
    assert result.reports and not result.errors
    read = result.reports[0]
    assert read.report.organization_name == "x" * 5_000  # kept whole
    assert ("long_value", "$.organization-name") in _codes(read.warnings)
    message = next(w.message for w in read.warnings if w.code == "long_value")
    assert message.startswith("5,000 characters")


def test_a_100_kb_name_refuses_the_report_with_the_path() -> None:
    for doc, path in (
            ({**GOOD, "organization-name": "x" * 100_000}, "$.organization-name"),
            (_with_row({"result-type": "validation-failure", "failed-session-count": 1,
                        "additional-information": "y" * 70_000}),
             "$.policies[0].failure-details[3].additional-information")):
        result = _read(doc)
        assert not result.reports
        assert _codes(result.errors) == [("value_too_long", path)], result.errors
        assert "more than max_field_chars (65,536)" in result.errors[0].message


def test_the_limit_is_a_setting() -> None:
    doc = {**GOOD, "report-id": "r" * 3_000}
    assert _read(doc).reports
    refused = _read(doc, max_field_chars=2_048)
    assert _codes(refused.errors) == [("value_too_long", "$.report-id")]


def test_long_strings_in_failure_rows_and_policies_are_named() -> None:
    doc = _with_row({"result-type": "certificate-expired", "failed-session-count": 1,
                     "receiving-mx-hostname": "mx." + "a" * 400 + ".example"})
    doc["policies"][0]["policy"]["mx-host"] = ["*." + "b" * 300 + ".example"]
    result = _read(doc)
    warned = {path for code, path in _codes(result.reports[0].warnings) if code == "long_value"}
    assert {"$.policies[0].failure-details[3].receiving-mx-hostname",
            "$.policies[0].policy.mx-host[0]"} <= warned


def _with_row(row: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(GOOD))
    entry = doc["policies"][0]
    entry["failure-details"] = [*entry.get("failure-details", []), row]
    entry["summary"]["total-failure-session-count"] += row["failed-session-count"]
    return doc


def test_unknown_members_are_held_to_the_limits_too() -> None:
    """The reviewer's repros: a 5 MB member name, and a 5 MB value in an unknown member."""
    named = _read({**GOOD, "k" * 5_000_000: 1})
    assert [f.code for f in named.errors] == ["value_too_long"]
    assert all(len(f.path) < 700 and len(f.message) < 2_100
               for f in named.errors + named.warnings)
    valued = _read({**GOOD, "x-note": {"deep": ["v" * 70_000]}})
    assert [(f.code, f.path) for f in valued.errors] == [("value_too_long", "$.x-note")]
    small = _read({**GOOD, "x-note": "fine"})
    assert small.reports and small.reports[0].extras


def test_finding_paths_and_locations_are_bounded() -> None:
    """60 zip members named with 60,000 characters each: every finding's path is cut (the
    400 answer echoed 10.8 MB; `tlsscope quarantine` took 559 s on it)."""
    import io
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for i in range(60):
            zipped.writestr(f"{i}{'n' * 60_000}.json", b'{"organization-name": 1}')
    result = read_input(archive.getvalue(), "long-names.zip")
    findings = result.errors + result.warnings
    assert findings
    assert all(len(f.path) <= 600 for f in findings), max(len(f.path) for f in findings)
    assert any("characters)" in f.path for f in findings)
