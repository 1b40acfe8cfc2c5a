from __future__ import annotations

import pytest

from tlsscope.policy_text import mx_matches, parse_sts_lines, parse_tlsa_strings


@pytest.mark.parametrize(("pattern", "host", "expected"), [
    ("*.example.com", "mail.example.com", True),
    ("*.example.com", "example.com", False),
    ("*.example.com", "a.b.example.com", False),
    ("mx.example.com", "MX.Example.com.", True),
    ("mx.example.com", "mx2.example.com", False),
])
def test_mx_matching_rfc8461_4_1(pattern: str, host: str, expected: bool) -> None:
    assert mx_matches(pattern, host) is expected


def test_sts_policy_problems() -> None:
    sts = parse_sts_lines(("version: STSv1", "mode: enforce", "max_age: 86400"))
    assert [code for code, _ in sts.problems] == ["sts_policy_no_mx"]
    repeated = parse_sts_lines(("version: STSv1", "mode: testing", "mode: enforce",
                                "mx: mx*.example.com", "max_age: 1"))
    assert repeated.mode == "testing"
    assert {code for code, _ in repeated.problems} == {"sts_policy_repeated",
                                                       "sts_policy_mx_pattern"}
    assert parse_sts_lines(("Version: STSv1",)).problems[0][0] == "sts_policy_key_case"


def test_tlsa_forms() -> None:
    one = parse_tlsa_strings(("3 1 1 ab CD",))
    assert [str(r) for r in one.records] == ["3 1 1 ABCD"]
    joined = parse_tlsa_strings(("3 1 1 AA; 2 0 1 BB",))
    assert len(joined.records) == 2 and joined.problems[0][0] == "tlsa_semicolon_list"
    bad = parse_tlsa_strings(("not a record",))
    assert bad.records == () and bad.problems[0][0] == "tlsa_record_invalid"
