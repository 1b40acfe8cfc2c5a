"""Which mode findings are judged by (analyze/detectors/modes.py): a report of a day the
policy changed lists each version (RFC 8460 §4.4), in any order; the findings are the same
whatever the order, judged by the stricter mode, and say that the day quoted both."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.support import reads
from tests.support.ingest import ingest_paths
from tests.support.scenarios import Day, Failure, report
from tlsscope.analyze.detectors import DomainFinding, detect, mx_outside_policy
from tlsscope.analyze.detectors.modes import Judged, judged, note
from tlsscope.facts import PolicyDay
from tlsscope.store import Store

DOMAIN = "example.com"
DAY = dt.date(2026, 3, 10)
MX = f"mx2.{DOMAIN}"


def changed_that_day(order: tuple[str, ...], result_type: str = "certificate-expired",
                     mx: str = MX) -> dict[str, object]:
    """no-policy-found 1/0 (before the policy appeared), sts testing 0/5, sts enforce 0/8:
    every sts session failed at one MX (by default on mx2's expired certificate)."""
    entries = {"none": Day("Google LLC", DAY, 1, mode="none"),
               "testing": Day("Google LLC", DAY, 0, [Failure(result_type, 5, mx)],
                              mode="testing"),
               "enforce": Day("Google LLC", DAY, 0, [Failure(result_type, 8, mx)])}
    whole = report(DOMAIN, entries["none"])
    whole["policies"] = [report(DOMAIN, entries[name])["policies"][0]  # type: ignore[index]
                         for name in order]
    return whole


def findings_of(store: Store, folder: Path, order: tuple[str, ...],
                lang: str) -> list[DomainFinding]:
    path = folder / "report.json"
    folder.mkdir()
    path.write_text(json.dumps(changed_that_day(order)))
    ingest_paths(store, [path])
    return detect(reads.facts(store, DOMAIN, DAY - dt.timedelta(days=29), DAY), lang)


@pytest.mark.parametrize("lang", ["en", "pt"])
@pytest.mark.parametrize("order", [("none", "testing", "enforce"),
                                   ("none", "enforce", "testing"),
                                   ("enforce", "testing", "none")])
def test_the_order_of_policies_changes_nothing(store: Store, tmp_path: Path,
                                               order: tuple[str, ...], lang: str) -> None:
    found = findings_of(store, tmp_path / "in", order, lang)
    # Judged by enforce, the stricter: critical, and no testing advice beside it.
    assert [(f.kind, f.severity, f.sessions) for f in found] == [
        ("certificate", "critical", 13)]
    said = {"en": "On 2026-03-10 the reports quoted your MTA-STS policy in enforce and "
                  "testing mode",
            "pt": "Em 2026-03-10 os relatórios citaram sua política MTA-STS em modo enforce e "
                  "testing"}[lang]
    assert said in found[0].explanation


@pytest.mark.parametrize("order", [("testing", "enforce"), ("enforce", "testing")])
def test_an_mx_outside_the_policy_is_judged_by_the_stricter_mode_too(
        store: Store, tmp_path: Path, order: tuple[str, ...]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps(changed_that_day(
        order, "validation-failure", "mail.elsewhere.example")))
    ingest_paths(store, [folder / "report.json"])
    [outside] = mx_outside_policy.detect(reads.facts(store, DOMAIN, DAY, DAY))  # before grouping
    assert (outside.severity, outside.sessions, outside.status) == ("high", 13, "open")
    assert "in enforce and testing mode" in outside.explanation


def _day(mode: str, day: dt.date = DAY) -> PolicyDay:
    return PolicyDay(report_key="k", reporter="R", day=day, policy_type="sts", mode=mode,
                     successful=0, failed=1, counted=True)


@pytest.mark.parametrize(("rows", "expected"), [
    ([_day("testing"), _day("enforce")], Judged("enforce", DAY, ("enforce", "testing"))),
    ([_day("none"), _day("testing")], Judged("testing", DAY, ("testing", "none"))),
    ([_day("enforce", DAY - dt.timedelta(days=1)), _day("testing")],
     Judged("testing", DAY, ("testing",))),
    ([_day(""), _day("testing")], Judged("testing", DAY, ("testing",))),
    ([_day("")], Judged("unquoted", DAY, ())),
])
def test_the_latest_day_is_judged_by_its_strictest_mode(rows: list[PolicyDay],
                                                        expected: Judged) -> None:
    assert judged(rows) == expected == judged(reversed(rows))
    assert bool(note(expected, "en")) == (len(expected.quoted) > 1)
