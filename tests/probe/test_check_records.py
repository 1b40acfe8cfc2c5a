"""`tlsscope check` steps 1 and 2a (records) against a real DNS server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli.test_parse_cmd import tlsscope
from tests.dnsserver import DnsServer

RECORDS = {
    "_smtp._tls.good.example": [("TXT", "v=TLSRPTv1; rua=mailto:tls@reports.example")],
    "_mta-sts.good.example": [("TXT", "v=STSv1; id=20261128T000000;")],
    "reports.example": [("MX", "10 mx.reports.example.")],
    "_smtp._tls.bad.example": [("TXT", "v=TLSRPTv1; rua=mailto:a@reports.example"),
                               ("TXT", "v=TLSRPTv1; rua=mailto:b@reports.example")],
    "_smtp._tls.lost.example": [("TXT", "v=TLSRPTv1; rua=mailto:tls@nomail.example,"
                                        "https://127.0.0.1:1/tlsrpt,mailto:x@aonly.example")],
    "_mta-sts.lost.example": [("TXT", "v=STSv1; id=not-valid!")],
    "aonly.example": [("A", "192.0.2.7")],
}


@pytest.fixture(scope="module")
def nameserver() -> Iterator[str]:
    with DnsServer(RECORDS) as server:
        host, port = server.address
        yield f"{host}:{port}"


def run(nameserver: str, domain: str) -> tuple[int, dict[str, Any]]:
    done = tlsscope("check", domain, "--nameserver", nameserver, "--timeout", "3", "--json")
    return done.returncode, json.loads(done.stdout)


def test_a_domain_with_good_records_is_clean(nameserver: str) -> None:
    code, found = run(nameserver, "good.example")
    assert code == 0 and found["status"] == "ok"
    assert [(s["step"], s["status"]) for s in found["steps"]] == [
        ("tlsrpt-record", "ok"), ("tlsrpt-rua", "ok"), ("mta-sts-record", "ok")]
    assert found["steps"][1]["details"] == ["10 mx.reports.example"]


def test_two_records_and_a_missing_one(nameserver: str) -> None:
    code, found = run(nameserver, "bad.example")
    assert code == 1
    first, sts = found["steps"]
    assert (first["status"], first["line"]) == (
        "error", "2 tlsrpt records at _smtp._tls.bad.example: senders ignore them all.")
    assert (sts["status"], sts["line"]) == ("error",
                                           "No mta-sts-record record at _mta-sts.bad.example.")


def test_each_rua_destination_is_checked(nameserver: str) -> None:
    code, found = run(nameserver, "lost.example")
    assert code == 1
    rua = {s["target"]: s for s in found["steps"] if s["step"] == "tlsrpt-rua"}
    assert rua["mailto:tls@nomail.example"]["status"] == "error"
    assert "neither MX nor address records" in rua["mailto:tls@nomail.example"]["line"]
    assert rua["mailto:x@aonly.example"]["status"] == "warning"
    assert rua["https://127.0.0.1:1/tlsrpt"]["status"] == "error"
    assert "does not answer over HTTPS" in rua["https://127.0.0.1:1/tlsrpt"]["line"]
    sts = found["steps"][-1]
    assert sts["status"] == "error" and "invalid" in sts["line"]
    assert any("1 to 32 letters or digits" in d for d in sts["details"])


def test_human_output_and_bad_nameserver(nameserver: str) -> None:
    done = tlsscope("check", "good.example", "--nameserver", nameserver)
    assert done.returncode == 0
    assert b"OK      tlsrpt-record" in done.stdout
    wrong = tlsscope("check", "good.example", "--nameserver", "nonsense")
    assert wrong.returncode == 2 and b"HOST:PORT" in wrong.stderr
