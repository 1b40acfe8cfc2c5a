"""Reporter disagreement: once per domain, and only when material relative to volume."""

from __future__ import annotations

import datetime as dt

from tests.support.facts import days, facts, policy
from tlsscope.analyze.detectors import disagreement

START = dt.date(2026, 11, 1)
BIG = (("Google LLC", 80_000), ("Microsoft Corporation", 80_000), ("Yahoo", 80_000))


def test_a_handful_of_sessions_in_a_large_volume_is_no_disagreement() -> None:
    # The case: three reporters, each alone on its day with 3-7 failed sessions of
    # 80,000 (under 0.01 %): no finding.
    rows = []
    for n, day in enumerate(days(START, 3)):
        for m, (name, ok) in enumerate(BIG):
            failed = (3, 5, 7)[n] if m == n else 0
            rows.append(policy(name, day, ok - failed, failed))
    assert disagreement.detect(facts(rows)) == []


def test_one_finding_names_every_reporter_that_disagrees() -> None:
    rows = []
    for n, day in enumerate(days(START, 4)):
        rows += [policy(name, day, ok) for name, ok in BIG]
        # Mail.ru fails on the first two days, Orange on the last two: alone each time.
        lone = "Mail.ru" if n < 2 else "Orange"
        rows.append(policy(lone, day, 30, 20))
    (found,) = disagreement.detect(facts(rows))
    assert found.reporters == ["Mail.ru", "Orange"]
    assert (found.sessions, found.first_seen, found.last_seen) == (
        80, START, START + dt.timedelta(days=3))
    assert found.title == "Mail.ru and Orange see failures that other reporters do not"
    assert found.explanation.startswith(
        "Mail.ru: 40 failed sessions to example.com on 2 day(s), 40.0 % of its sessions those "
        "days; Orange: 40 failed sessions")
    assert "Google LLC, Microsoft Corporation and Yahoo failed less than 0.1 %" in (
        found.explanation)
    (in_pt,) = disagreement.detect(facts(rows), "pt")
    assert in_pt.title == "Mail.ru e Orange veem falhas que os outros remetentes não veem"


def test_not_a_disagreement_when_the_others_fail_too_or_are_too_few() -> None:
    day = START
    shared = [policy("Google LLC", day, 900, 100), policy("Microsoft Corporation", day, 900, 2),
              policy("Mail.ru", day, 30, 20)]
    # Google fails 10 %: the others do not "see none"; Mail.ru is not alone.
    assert [f.reporters for f in disagreement.detect(facts(shared))] == []
    pair = [policy("Google LLC", day, 900), policy("Mail.ru", day, 30, 20)]
    assert disagreement.detect(facts(pair)) == []  # one clean reporter is not enough
    small = [policy(n, day, ok) for n, ok in BIG] + [policy("Mail.ru", day, 1000, 9)]
    assert disagreement.detect(facts(small)) == []  # 9 sessions: below MIN_SESSIONS
