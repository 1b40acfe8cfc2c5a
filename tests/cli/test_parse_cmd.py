"""`tlsscope parse`, run as a real process: the JSON contract, exit codes, escaping."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import tlsscope

pytestmark = pytest.mark.server

FIX = Path(__file__).parents[1] / "fixtures"
CONTRACT_INPUT = {"source", "outcome", "errors", "warnings", "reports"}
CONTRACT_REPORT = {"organization_name", "contact_info", "report_id", "start", "end", "day",
                   "warnings", "policies"}
CONTRACT_POLICY = {"policy_type", "policy_domain", "policy_strings", "mode", "mx_patterns",
                   "mx_host", "tlsa_records", "successful_session_count", "failed_session_count",
                   "failure_details"}
CONTRACT_DETAIL = {"result_type", "failed_session_count", "sending_mta_ip",
                   "receiving_mx_hostname", "receiving_mx_helo", "receiving_ip",
                   "additional_information", "failure_reason_code"}


def parse_json(*args: str, stdin: bytes | None = None) -> tuple[int, list[dict[str, Any]]]:
    done = tlsscope("parse", "--json", *args, stdin=stdin)
    return done.returncode, json.loads(done.stdout)


def test_real_corpus_follows_the_contract() -> None:
    code, entries = parse_json(str(FIX / "real"))
    assert code == 0
    assert len(entries) == 21
    assert [e["source"] for e in entries] == sorted(e["source"] for e in entries)
    for entry in entries:
        assert CONTRACT_INPUT <= entry.keys()
        assert entry["outcome"] in {"accepted", "duplicate"}
        for finding in entry["errors"] + entry["warnings"]:
            assert set(finding) == {"code", "message", "path"}
        for report in entry["reports"]:
            assert CONTRACT_REPORT <= report.keys()
            for policy in report["policies"]:
                assert CONTRACT_POLICY <= policy.keys()
                for detail in policy["failure_details"]:
                    assert CONTRACT_DETAIL <= detail.keys()


def test_values_in_the_contract() -> None:
    _, (entry,) = parse_json(str(FIX / "real" / "microsoft-dmarc-report-viewer-sts-plus-tlsa.json"))
    report = entry["reports"][0]
    assert (report["start"], report["end"], report["day"]) == (
        "2025-05-23T00:00:00Z", "2025-05-23T23:59:59Z", "2025-05-23")
    sts, tlsa = report["policies"]
    assert (sts["mode"], sts["mx_patterns"], sts["mx_host"]) == ("enforce", ["*.random.net"], None)
    assert len(tlsa["tlsa_records"]) == 2 and len(tlsa["policy_strings"]) == 1
    _, (mailru,) = parse_json(str(FIX / "real" / "mailru-parsedmarc-two-fetch-errors.json"))
    details = mailru["reports"][0]["policies"][0]["failure_details"]
    assert [d["failure_reason_code"] for d in details] == [
        "bad https response code: 404", "bad https response code: 500"]
    assert details[0]["sending_mta_ip"] is None


def test_duplicates_within_one_run(tmp_path: Path) -> None:
    report = FIX / "quirks" / "pretty-sorted.json"
    other_org = json.loads(report.read_bytes())
    other_org["organization-name"] = "Another Sender"
    (tmp_path / "other.json").write_text(json.dumps(other_org))
    mail = FIX / "quirks" / "mail-rfc-shape.eml"  # the same report, in a mail
    code, entries = parse_json(str(report), str(tmp_path / "other.json"), str(mail), str(report))
    assert code == 0
    assert [e["outcome"] for e in entries] == ["accepted", "accepted", "duplicate", "duplicate"]


def test_exit_status_one_when_something_is_rejected(tmp_path: Path) -> None:
    shutil.copy(FIX / "quirks" / "error-truncated.json.gz", tmp_path)
    shutil.copy(FIX / "quirks" / "report.json.gz", tmp_path)
    code, entries = parse_json(str(tmp_path))
    assert code == 1
    assert [e["outcome"] for e in entries] == ["rejected", "accepted"]
    assert entries[0]["errors"][0]["code"] == "truncated_gzip"


def test_usage_errors_exit_two() -> None:
    assert tlsscope("parse").returncode == 2
    assert tlsscope("parse", "/no/such/file").returncode == 2
    assert tlsscope("parse", "--bogus", str(FIX)).returncode == 2


def test_stdin_and_mbox() -> None:
    data = (FIX / "quirks" / "report.json.gz").read_bytes()
    code, (entry,) = parse_json("-", stdin=data)
    assert code == 0 and entry["source"] == "<stdin>" and entry["outcome"] == "accepted"
    code, entries = parse_json(str(FIX / "quirks" / "reports.mbox"))
    assert [e["source"].rsplit("/", 1)[-1] for e in entries] == [
        "reports.mbox#1", "reports.mbox#2", "reports.mbox#3"]
    assert [e["outcome"] for e in entries] == ["accepted", "not_a_report", "duplicate"]


def test_table_escapes_report_strings() -> None:
    done = tlsscope("parse", str(FIX / "quirks" / "hostile-strings.json"))
    out = done.stdout.decode()
    assert done.returncode == 0
    assert "\x1b[31m" not in out and "\u202e" not in out
    assert "\\x1b[31mRED" in out and "\\u202eevil" in out
    assert "<script>alert(1)</script>" in out


def test_help_everywhere() -> None:
    assert b"parse" in tlsscope("--help").stdout
    assert b"--json" in tlsscope("parse", "--help").stdout
