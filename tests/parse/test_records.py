"""Records and policy files: the RFC 8460 §3 and RFC 8461 §3.1/§3.2 rules, one case each,
with the token, position and rule of every problem; generators round-trip through the checker."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.support.cli import tlsscope
from tlsscope.parse.records import check, check_all, sts_policy, sts_record, tlsrpt_record


@pytest.mark.parametrize(("text", "rua"), [
    ("v=TLSRPTv1; rua=mailto:tls-reports@example.com", ["mailto:tls-reports@example.com"]),
    ("v=TLSRPTv1;rua=https://tlsrpt.example.com/v1/report",
     ["https://tlsrpt.example.com/v1/report"]),
    ("v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.net/tlsrpt;",
     ["mailto:a@example.com", "https://r.example.net/tlsrpt"]),
    ("v=TLSRPTv1 ; rua=mailto:a@example.com", ["mailto:a@example.com"]),
])
def test_valid_tlsrpt_records(text: str, rua: list[str]) -> None:
    found = check(text)
    assert (found.kind, found.valid, found.rua) == ("tlsrpt", True, rua)
    assert found.problems == []


def test_extension_is_ignored_with_a_warning() -> None:
    found = check("v=TLSRPTv1; rua=mailto:a@example.com; x-note=hello")
    assert found.valid
    ((level, token, position, rule, _),) = found.problems
    assert (level, token, position, rule) == ("warning", "x-note=hello", 38, "RFC 8460 §3")


@pytest.mark.parametrize(("text", "token", "position", "words"), [
    ("v=TLSRPTv1", "v=TLSRPTv1", 0, "must be followed by ';'"),
    ("rua=mailto:a@example.com; v=TLSRPTv1", "rua=mailto:a@example.com", 0,
     "must start with exactly 'v=TLSRPTv1'"),
    ("V=TLSRPTV1; rua=mailto:a@example.com", "V=TLSRPTV1", 0, "case-sensitive"),
    ("v=TLSRPTv10; rua=mailto:a@example.com", "v=TLSRPTv10", 0, "must start with exactly"),
    ("v=TLSRPTv1; rua=mailto:a@example.com,b@example.com", "b@example.com", 37,
     "write mailto:b@example.com"),
    ("v=TLSRPTv1; rua = mailto:a@example.com", "rua = mailto:a@example.com", 12,
     "whitespace around '='"),
    ("v=TLSRPTv1; RUA=mailto:a@example.com", "RUA=mailto:a@example.com", 12, "lower case"),
    ("v=TLSRPTv1; rua=mailto:not-an-address", "not-an-address", -1, "not an e-mail address"),
    ("v=TLSRPTv1; rua=ftp://r.example.com/x", "rua=", -1, "no usable report URI"),
])
def test_invalid_tlsrpt_records_name_the_token(text: str, token: str, position: int,
                                                words: str) -> None:
    found = check(text)
    assert found.kind == "tlsrpt" and not found.valid
    errors = [p for p in found.problems if p.level == "error"]
    first = errors[0]
    assert first.token == token or token in first.message
    if position >= 0:
        assert first.position == position
    assert words in first.message
    assert first.rule == "RFC 8460 §3"


def test_http_uri_is_skipped_with_a_warning_and_a_second_rua_is_ignored() -> None:
    found = check("v=TLSRPTv1; rua=http://r.example.com/x,mailto:a@example.com; "
                  "rua=mailto:b@example.com")
    assert found.valid and found.rua == ["mailto:a@example.com"]
    assert [p.level for p in found.problems] == ["warning", "warning"]
    assert "only the first" in found.problems[1].message


def test_two_records_at_one_name_mean_none() -> None:
    both = check_all(["v=TLSRPTv1; rua=mailto:a@example.com",
                      "v=TLSRPTv1; rua=mailto:b@example.com", "v=spf1 -all"])
    assert [c.valid for c in both[:2]] == [False, False]
    assert "publish exactly one" in both[0].problems[-1].message


def test_sts_records() -> None:
    assert check("v=STSv1; id=20250301T120000;").sts_id == "20250301T120000"
    bad = check("v=STSv1; id=2025-03-01")
    assert not bad.valid and bad.problems[0].token == "id=2025-03-01"
    assert bad.problems[0].rule == "RFC 8461 §3.1"
    missing = check("v=STSv1;")
    assert not missing.valid and "no 'id=' field" in missing.problems[-1].message


def test_policy_file_errors_and_mx_coverage() -> None:
    text = "mode: enforcing\nmx: mx*.example.com\nmax_age: 99999999999\n"
    found = check(text)
    assert found.kind == "mta-sts-policy" and not found.valid
    messages = " | ".join(p.message for p in found.problems)
    for words in ("should be the first line", "no 'version' line", "'enforcing'",
                  "'99999999999' is not a number", "'mx*.example.com' is not valid"):
        assert words in messages
    good = ("version: STSv1\r\nmode: enforce\r\nmx: *.example.com\r\nmax_age: 604800\r\n")
    assert check(good).valid
    covered = check(good, ["mx1.example.com", "a.b.example.com"])
    ((problem,),) = [[p for p in covered.problems if p.level == "error"]]
    assert (problem.token, problem.rule) == ("a.b.example.com", "RFC 8461 §4.1")
    short = check(good.replace("604800", "3600"))
    assert short.valid and "under a day" in short.problems[0].message


def test_generators_round_trip() -> None:
    record = tlsrpt_record(["mailto:tls@example.com", "https://r.example.com/v1"])
    assert record == "v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example.com/v1"
    assert check(record).valid and check(record).problems == []
    with pytest.raises(ValueError, match="no scheme"):
        tlsrpt_record(["tls@example.com"])
    policy = sts_policy(["MX1.example.com.", "*.mail.example.com"], "testing", 604800)
    assert policy == ("version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\n"
                      "mx: *.mail.example.com\r\nmax_age: 604800\r\n")
    assert check(policy).valid
    with pytest.raises(ValueError, match="not valid"):
        sts_policy(["mx*.example.com"], "enforce", 604800)
    when = dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC)
    assert sts_record(now=when) == "v=STSv1; id=20261128T093000;"
    assert check(sts_record(now=when)).valid


@pytest.mark.server  # runs the CLI as a process
def test_record_commands() -> None:
    done = tlsscope("record", "check", "v=TLSRPTv1; rua=mailto:a@example.com,b@example.com")
    assert done.returncode == 1
    assert b"b@example.com" in done.stdout and b"Traceback" not in done.stderr
    ok = tlsscope("record", "check", "--json", "v=TLSRPTv1; rua=mailto:a@example.com")
    assert ok.returncode == 0
    (entry,) = json.loads(ok.stdout)
    assert (entry["kind"], entry["valid"], entry["rua"]) == ("tlsrpt", True,
                                                            ["mailto:a@example.com"])
    policy = b"version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 604800\n"
    piped = tlsscope("record", "check", "-", "--mx", "mx.other.net", stdin=policy)
    assert piped.returncode == 1 and b"mx.other.net" in piped.stdout
    made = json.loads(tlsscope("record", "mta-sts", "--mx", "mx1.example.com", "--domain",
                               "example.org", "--id", "abc1", "--json").stdout)
    assert made["record"] == "v=STSv1; id=abc1;"
    assert made["policy_url"] == "https://mta-sts.example.org/.well-known/mta-sts.txt"
    written = tlsscope("record", "tlsrpt", "--rua", "mailto:tls@example.org", "--domain",
                       "example.org")
    assert b'_smtp._tls.example.org. 3600 IN TXT "v=TLSRPTv1; rua=mailto:tls@example.org"' \
        in written.stdout
    assert tlsscope("record", "tlsrpt", "--rua", "tls@example.org").returncode == 1
