"""The downgrade heuristic: each kind of evidence that the MX offers STARTTLS, said so."""

from __future__ import annotations

import datetime as dt

from tests.support.facts import days, facts, failure, policy
from tlsscope.analyze.detectors import downgrade
from tlsscope.facts import FailureRow, PolicyDay

START = dt.date(2026, 11, 1)
MX = "mx.example.com"


def single_mx_story() -> tuple[list[PolicyDay], list[FailureRow]]:
    """The policy allows one MX; Google and Yahoo succeed every day; Microsoft's sessions from
    one network (203.0.113.0/24) see no STARTTLS, its others succeed."""
    policies, rows = [], []
    for day in days(START, 5):
        policies += [policy("Google LLC", day, 900, patterns=(MX,)),
                     policy("Yahoo", day, 200, patterns=(MX,)),
                     policy("Microsoft Corporation", day, 280, 20, patterns=(MX,))]
        rows += [failure("Microsoft Corporation", day, "starttls-not-supported", 10, MX,
                         sending_ip=f"203.0.113.{n}") for n in (5, 6)]
    return policies, rows


def test_the_only_mx_of_the_policy_reached_by_others_who_succeed() -> None:
    (found,) = downgrade.detect(facts(*single_mx_story()))
    assert (found.heuristic, found.mx_host, found.reporters, found.sessions) == (
        True, MX, ["Microsoft Corporation"], 100)
    assert found.basis == ["only-mx-in-policy", "own-successes"]
    assert ("mx.example.com is the only MX your MTA-STS policy allows, and on the same days "
            "Google LLC and Yahoo reported successful sessions and no STARTTLS failure"
            ) in found.explanation
    assert ("Microsoft Corporation itself reported 1,400 successful sessions on those days"
            ) in found.explanation
    assert "only its sessions from 203.0.113.5 and 203.0.113.6 saw none" in found.explanation
    (in_pt,) = downgrade.detect(facts(*single_mx_story()), "pt")
    assert "é o único MX que sua política MTA-STS permite" in in_pt.explanation
    assert in_pt.explanation.startswith("Heurística: Microsoft Corporation viu")


def test_the_reporters_own_other_addresses_got_past_starttls() -> None:
    day = START
    policies = [policy("Microsoft Corporation", day, 0, 14, patterns=("*.example.com",))]
    rows = [failure("Microsoft Corporation", day, "starttls-not-supported", 6, MX,
                    sending_ip="203.0.113.5"),
            failure("Microsoft Corporation", day, "certificate-expired", 8, MX,
                    sending_ip="198.51.100.9")]
    (found,) = downgrade.detect(facts(policies, rows))
    assert found.basis == ["own-other-addresses"]
    assert ("Microsoft Corporation's own sessions from 198.51.100.9 got past STARTTLS at "
            "mx.example.com on those days (they failed later checks); only those from "
            "203.0.113.5 saw no STARTTLS.") in found.explanation


def test_no_evidence_that_the_mx_offers_starttls_no_heuristic() -> None:
    # A wildcard policy, and only the failing reporter ever names the MX: others may well
    # deliver elsewhere (a backup MX without TLS is no downgrade).
    policies, rows = single_mx_story()
    wildcard = [policy(p.reporter, p.day, p.successful, p.failed) for p in policies]
    assert downgrade.detect(facts(wildcard, rows)) == []
