"""mx-outside-policy: each policy version's sessions judged by that version's own mx lines."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.support import reads
from tests.support.facts import facts, failure, policy
from tests.support.ingest import ingest_paths
from tests.support.scenarios import Day, Failure, report
from tlsscope.analyze.detectors import mx_outside_policy
from tlsscope.store import Store

DAY = dt.date(2026, 11, 10)
OLD, NEW = ("mx1.example.com",), ("mx1.example.com", "mx2.example.com")


def test_each_version_is_judged_by_its_own_mx_lines() -> None:
    # One Google report of the day the policy changed: v1 (mx1 only) then v2 (mx1 and mx2).
    # Sessions to mx2 failed under both; only the 4 under v1 are outside their policy.
    report = "google-change-day"
    policies = [policy("Google LLC", DAY, 100, 4, patterns=OLD, idx=0, report=report),
                policy("Google LLC", DAY, 300, 9, patterns=NEW, idx=1, report=report)]
    rows = [failure("Google LLC", DAY, "validation-failure", 4, "mx2.example.com", idx=0,
                    report=report),
            failure("Google LLC", DAY, "certificate-expired", 9, "mx2.example.com", idx=1,
                    report=report)]
    (found,) = mx_outside_policy.detect(facts(policies, rows))
    assert (found.mx_host, found.sessions, found.result_type) == (
        "mx2.example.com", 4, "validation-failure")
    assert "(mx1.example.com;" in found.explanation and "4 sessions failed" in found.explanation
    # Judged the old way (by the report's last version), nothing would be outside; judged by
    # one version for all, 13 sessions would.
    assert found.status == "open"


def test_resolved_once_the_reporter_reports_under_a_policy_covering_it() -> None:
    later = DAY + dt.timedelta(days=1)
    policies = [policy("Google LLC", DAY, 100, 4, patterns=OLD),
                policy("Google LLC", later, 100, patterns=NEW)]
    rows = [failure("Google LLC", DAY, "validation-failure", 4, "mx2.example.com")]
    (found,) = mx_outside_policy.detect(facts(policies, rows))
    assert found.status == "resolved"
    still = [policy("Google LLC", DAY, 100, 4, patterns=OLD),
             policy("Google LLC", later, 100, patterns=OLD)]
    (found,) = mx_outside_policy.detect(facts(still, rows))
    assert found.status == "open"


def test_the_store_gives_each_row_its_policy(store: Store, tmp_path: Path) -> None:
    entry = report("example.com", Day("Google LLC", DAY, 100, [
        Failure("validation-failure", 4, "mx2.example.com")]))
    first = entry["policies"][0]  # type: ignore[index]
    second = json.loads(json.dumps(first))
    second["policy"]["policy-string"][2] = "mx: mx2.example.com"
    second["policy"]["mx-host"] = ["mx2.example.com"]
    second["failure-details"][0]["failed-session-count"] = 9
    second["summary"]["total-failure-session-count"] = 9
    first["policy"]["policy-string"][2] = "mx: mx1.example.com"
    first["policy"]["mx-host"] = ["mx1.example.com"]
    entry["policies"] = [first, second]
    path = tmp_path / "change-day.json"
    path.write_text(json.dumps(entry))
    ingest_paths(store, [path])
    stored = reads.facts(store, "example.com", DAY, DAY)
    assert sorted((p.policy_idx, p.mx_patterns) for p in stored.policies) == [
        (0, ("mx1.example.com",)), (1, ("mx2.example.com",))]
    assert sorted((f.policy_idx, f.sessions) for f in stored.failures) == [(0, 4), (1, 9)]
    (found,) = mx_outside_policy.detect(stored)
    assert (found.mx_host, found.sessions) == ("mx2.example.com", 4)
