"""One report in plain language (`tlsscope show`), from real reports and the scenario builder."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.support.cli import tlsscope
from tests.support.scenarios import Day, Failure, report
from tlsscope.analyze.reading import read_report
from tlsscope.parse import read_input
from tlsscope.report import Report

FIX = Path(__file__).parents[1] / "fixtures" / "real"


def real(name: str) -> Report:
    path = FIX / name
    return read_input(path.read_bytes(), str(path), filename=name).reports[0].report


def test_mailru_fetch_errors_with_their_http_codes() -> None:
    found = read_report(real("mailru-parsedmarc-two-fetch-errors.json"), [True])
    assert found.sentences[0] == ("Mail.ru reported on 2024-02-22 (2024-02-22 00:00 to "
                                  "2024-02-23 00:00 UTC) about example.com.")
    assert found.sentences[1] == ("Under your MTA-STS policy (mode not quoted): 1 session, 0 "
                                  "(0.0 %) used TLS successfully.")
    assert found.sentences[2] == ("1 failed to an MX the reports did not name: Senders could not "
                                  "download your MTA-STS policy.")
    assert found.sentences[3].startswith('The sender\'s reason code "bad https response code: '
                                         '404": ')
    assert "404" in found.sentences[3]
    assert [(r.result_type, r.reason_id is not None, r.mode) for r in found.rows] == [
        ("sts-policy-fetch-error", True, "unquoted"), ("sts-policy-fetch-error", True, "unquoted")]
    # No policy-string, so no mode: the effect says so and gives both modes, never one.
    assert found.rows[0].effect.startswith("The report did not quote your MTA-STS policy's mode")
    assert "Under enforce:" in found.rows[0].effect and "Under testing:" in found.rows[0].effect
    assert "testing mode" not in " ".join(found.sentences)


def test_sts_and_tlsa_of_the_same_sessions_are_not_counted_twice() -> None:
    found = read_report(real("microsoft-dmarc-report-viewer-sts-plus-tlsa.json"), [True, False])
    assert "your DANE (TLSA) records" in found.sentences[2]
    assert found.sentences[3] == ("These are the same sessions as under the policy above; "
                                  "tlsscope does not count them twice.")
    assert found.sentences[-1] == "No session failed in this report."
    assert found.rows == []


def test_no_policy_found_is_named() -> None:
    found = read_report(real("google-dmarc-report-viewer-no-policy-found-minified.json"), [True])
    assert "no policy (the sender found neither MTA-STS nor DANE)" in found.sentences[1]


def test_unrecognised_reason_code_is_said_honestly_in_portuguese() -> None:
    raw = report("example.com", Day("Org", dt.date(2026, 3, 3), 50, [
        Failure("certificate-host-mismatch", 2, "mx1.example.com", reason="zzz-unheard-of")]))
    parsed = read_input(json.dumps(raw).encode(), "inline").reports[0].report
    found = read_report(parsed, [True], "pt")
    assert found.sentences[1] == ("Sob sua política MTA-STS em modo enforce: 52 sessões, 50 "
                                  "(96,1 %) usaram TLS com sucesso.")
    assert found.sentences[3].startswith('O código de motivo do remetente "zzz-unheard-of": O '
                                         "tlsscope não reconhece")
    (row,) = found.rows
    assert (row.reason_id, row.severity, row.mx_host) == (None, "critical", "mx1.example.com")


@pytest.mark.server  # runs the CLI as a process
def test_show_prints_the_reading(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert tlsscope("ingest", str(FIX / "mailru-parsedmarc-two-fetch-errors.json"),
                    "--db", url).returncode == 0
    (entry,) = json.loads(tlsscope("reports", "--db", url, "--json").stdout)
    done = tlsscope("show", entry["key"][:12], "--db", url)
    assert done.returncode == 0, done.stderr
    assert b"In plain language" in done.stdout
    assert b"Senders could not download your MTA-STS policy" in done.stdout
    portuguese = tlsscope("show", entry["key"], "--db", url, "--lang", "pt")
    assert "Em linguagem simples" in portuguese.stdout.decode()
    shown = json.loads(tlsscope("show", entry["key"], "--db", url, "--json", "--lang", "pt")
                       .stdout)
    assert shown["report"]["organization-name"] == "Mail.ru"
    assert shown["reading"]["sentences"][0].startswith("Mail.ru relatou em 2024-02-22")
    assert shown["reading"]["rows"][0]["result_type"] == "sts-policy-fetch-error"
