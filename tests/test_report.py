"""The counting rule (report.counted): which policies of a report count toward their domain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tlsscope.parse.json_report import read_json
from tlsscope.parse.results import ReadReport
from tlsscope.report import Report, counted

FIX = Path(__file__).parent / "fixtures"


def _policy(kind: str, ok: int, failed: int, domain: str = "example.com",
            mode: str = "enforce") -> dict[str, Any]:
    policy: dict[str, Any] = {"policy-type": kind, "policy-domain": domain}
    if kind == "sts":
        policy["policy-string"] = ["version: STSv1", f"mode: {mode}", "mx: mx.example.com",
                                   "max_age: 86400"]
    return {"policy": policy, "summary": {"total-successful-session-count": ok,
                                          "total-failure-session-count": failed}}


def _report(*policies: dict[str, Any]) -> ReadReport:
    data = {"organization-name": "Google Inc.", "report-id": "r1", "contact-info": "x@y.z",
            "date-range": {"start-datetime": "2026-11-30T00:00:00Z",
                           "end-datetime": "2026-11-30T23:59:59Z"},
            "policies": list(policies)}
    [read] = read_json(json.dumps(data).encode())
    assert isinstance(read, ReadReport)
    return read


def test_no_policy_found_and_two_sts_versions_are_all_different_sessions() -> None:
    # The Google report: the policy appeared, then changed, during the day.
    read = _report(_policy("no-policy-found", 1, 0), _policy("sts", 0, 5, mode="testing"),
                   _policy("sts", 0, 8))
    assert read.report.counted_policies() == [True, True, True]
    assert read.report.domain_totals() == {"example.com": (1, 13)}
    assert "sts_tlsa_overlap" not in {w.code for w in read.warnings}


def test_sts_and_tlsa_of_one_domain_count_once_sts_on_a_tie() -> None:
    read = _report(_policy("sts", 2, 0), _policy("tlsa", 2, 0))
    assert read.report.counted_policies() == [True, False]
    assert read.report.domain_totals() == {"example.com": (2, 0)}
    assert "sts_tlsa_overlap" not in {w.code for w in read.warnings}  # plain, not ambiguous


def test_sts_and_tlsa_with_different_totals_count_the_larger_and_warn() -> None:
    read = _report(_policy("sts", 2, 0), _policy("tlsa", 5, 1))
    assert read.report.counted_policies() == [False, True]
    assert read.report.domain_totals() == {"example.com": (5, 1)}
    [note] = [w for w in read.warnings if w.code == "sts_tlsa_overlap"]
    assert "tlsa figures are counted" in note.message


def test_no_policy_found_beside_sts_and_tlsa_still_counts() -> None:
    read = _report(_policy("no-policy-found", 3, 0), _policy("sts", 4, 1), _policy("tlsa", 4, 1),
                   _policy("sts", 1, 0))
    # sts versions sum to 6 against tlsa's 5: sts counts (both versions), tlsa does not
    assert read.report.counted_policies() == [True, True, False, True]
    assert read.report.domain_totals() == {"example.com": (8, 1)}


def test_the_rule_is_per_domain() -> None:
    read = _report(_policy("sts", 2, 0, "a.example"), _policy("tlsa", 2, 0, "b.example"))
    assert read.report.counted_policies() == [True, True]
    assert read.report.domain_totals() == {"a.example": (2, 0), "b.example": (2, 0)}


@pytest.mark.parametrize(("entries", "expected"), [
    ([], []),
    ([("d", "unknown-type", 3), ("d", "sts", 3)], [True, True]),
    ([("d", "tlsa", 3), ("d", "tlsa", 4), ("d", "sts", 7)], [False, False, True]),
    ([("d", "tlsa", 3), ("d", "tlsa", 5), ("d", "sts", 7)], [True, True, False]),
])
def test_counted_on_plain_entries(entries: list[tuple[str, str, int]],
                                  expected: list[bool]) -> None:
    assert counted(entries) == expected


def test_real_microsoft_report_counts_its_sts_view() -> None:
    data = (FIX / "real" / "microsoft-dmarc-report-viewer-sts-plus-tlsa.json").read_bytes()
    [read] = read_json(data)
    assert isinstance(read, ReadReport)
    report: Report = read.report
    assert [p.policy.policy_type for p in report.policies] == ["sts", "tlsa"]
    assert report.counted_policies() == [True, False]


def test_sts_and_tlsa_with_equal_totals_but_other_figures_warn() -> None:
    read = _report(_policy("sts", 0, 5), _policy("tlsa", 5, 0))
    assert read.report.domain_totals() == {"example.com": (0, 5)}  # a tie: the sts view
    [note] = [w for w in read.warnings if w.code == "sts_tlsa_overlap"]
    assert "sts figures are counted" in note.message
