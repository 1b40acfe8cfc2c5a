"""An inconclusive check is no evidence: the findings keep the previous conclusive check, the
next check compares with that one, and the schedule tries again after the minimum gap. Against
the fake internet (tests/support/fakenet.py), a resolver that never answers and a real store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import msgspec
import pytest

from tests.support.cli import by_mx, findings, ingest, tlsscope
from tests.support.clock import Clock
from tests.support.fakenet import options
from tests.support.faults import closed_port, silent_server
from tests.support.scenarios import Day, Failure, write
from tlsscope.analyze.detectors import DomainFinding
from tlsscope.analyze.live import corroborate
from tlsscope.app.recheck import Rechecker
from tlsscope.live_check import LiveCheck, Step
from tlsscope.settings import Settings
from tlsscope.store import Store, checks_rows, findings_rows, recheck_rows
from tlsscope.vocab import FindingStatus, Severity

pytestmark = pytest.mark.server

CHECKED = dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC)


def test_an_inconclusive_check_leaves_the_evidence_as_it_was(nameserver: str,
                                                             tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'tlsscope.db'}"
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    write(tmp_path / "in", "mail.example", [Day("Google Inc.", yesterday, 500, (
        Failure("certificate-expired", 7, "expired.mail.example", "127.0.0.5"),
        Failure("certificate-expired", 3, "good.mail.example", "127.0.0.3"),
    ))])
    assert tlsscope("ingest", str(tmp_path / "in"), "--db", db).returncode == 0
    first = tlsscope("check", "mail.example", *options(nameserver, save=True), "--db", db)
    assert first.returncode == 1
    before = by_mx(findings(db))
    assert before["expired.mail.example"]["live"]["verdict"] == "confirmed"
    assert before["good.mail.example"]["status"] == "likely-fixed"

    with silent_server() as address:
        done = tlsscope("check", "mail.example", "--nameserver", address, "--timeout", "0.3",
                        "--save", "--db", db, "--json")
    assert done.returncode == 75
    assert json.loads(done.stdout)["status"] == "inconclusive"
    with Store.open(db) as store:
        history = store.read(checks_rows.history, "mail.example")
        assert [c.status for c in history] == ["inconclusive", "error"]
        latest = store.read(checks_rows.latest, "mail.example")
        assert latest is not None and latest.checked_at == history[1].checked_at
        # For the schedule, the last check is still the conclusive one; the try is noted.
        queued = store.read(recheck_rows.state, "mail.example")
        assert queued is not None and queued["checked_at"] == history[1].checked_at
        assert queued["tried_at"] == history[0].checked_at
        # Nothing to recompute: no new evidence.
        assert store.read(findings_rows.stale_domains) == []

    after = by_mx(findings(db))
    assert after == before  # the same evidence, the same statuses
    assert after["expired.mail.example"]["live"]["checked_at"] == \
        history[1].checked_at.isoformat().replace("+00:00", "Z")

    # The next conclusive check compares with the conclusive one: nothing drifted.
    again = tlsscope("check", "mail.example", *options(nameserver, save=True), "--db", db,
                     "--json")
    assert again.returncode == 1
    assert "mx-drift" not in {s["step"] for s in json.loads(again.stdout)["steps"]}


def finding(result_type: str, mx: str = "mx2.example.com",
            kind: str = "certificate") -> DomainFinding:
    return DomainFinding(
        kind=kind, severity=Severity.CRITICAL, domain="example.com", mx_host=mx, receiving_ip="",
        result_type=result_type, reporters=["Google Inc."], first_seen=dt.date(2026, 11, 20),
        last_seen=dt.date(2026, 11, 27), sessions=40, status=FindingStatus.OPEN, title="t",
        explanation="e", fix=[], evidence=[])


def step(host: str, status: str, results: tuple[str, ...] = ()) -> Step:
    return Step(step="mx", target=host, status=status, host=host, line=f"{host}: {status}",
                results=list(results))


def check(*steps: Step, status: str = "error", mx_known: bool = True) -> LiveCheck:
    return LiveCheck(domain="example.com", checked_at=CHECKED, status=status, seconds=0.1,
                     steps=list(steps), mx_known=mx_known,
                     mx_hosts=["mx1.example.com", "mx2.example.com"] if mx_known else [],
                     policy_mx=["mx1.example.com"])


def test_inconclusive_steps_neither_confirm_nor_refute() -> None:
    expired = finding("certificate-expired")
    # mx2 could not be looked up; mx1 fails: nothing is said about mx2.
    corroborate(expired, check(step("mx2.example.com", "inconclusive"),
                               step("mx1.example.com", "error", ("certificate-expired",))))
    assert expired.live is None and expired.status == "open"
    # A check that is inconclusive as a whole is no evidence, even where its steps are ok.
    fine = finding("certificate-expired")
    corroborate(fine, check(step("mx2.example.com", "ok"), step("mx1.example.com",
                                                                "inconclusive"),
                            status="inconclusive"))
    assert fine.live is None and fine.status == "open"


def test_a_step_without_an_answer_leaves_the_previous_checks_word_standing() -> None:
    older = check(step("mx2.example.com", "error", ("certificate-expired",)))
    older = msgspec.structs.replace(older, checked_at=CHECKED - dt.timedelta(days=1))
    newer = check(step("mx2.example.com", "inconclusive"),
                  step("mx1.example.com", "error", ("certificate-expired",)))
    expired = finding("certificate-expired")
    corroborate(expired, [newer, older])  # newest first, as checks_rows.conclusive gives them
    assert expired.live is not None and expired.live.verdict == "confirmed"
    assert expired.live.checked_at == older.checked_at
    # Where the newest check has a word, it is the one taken.
    fixed = check(step("mx2.example.com", "ok"))
    healed = finding("certificate-expired")
    corroborate(healed, [fixed, older])
    assert healed.live is not None and healed.live.verdict == "contradicted"
    assert healed.live.checked_at == fixed.checked_at


def test_an_unknown_mx_set_says_nothing_about_coverage_or_departures() -> None:
    outside = finding("", mx="mx2.example.com", kind="mx-outside-policy")
    corroborate(outside, check(mx_known=False))
    assert outside.live is None
    gone = finding("certificate-expired", mx="mx9.example.com")
    corroborate(gone, check(step("mx9.example.com", "inconclusive"), mx_known=False))
    assert gone.live is None
    # With a known MX set, a host that left it is contradicted as before.
    left = finding("certificate-expired", mx="mx9.example.com")
    corroborate(left, check(step("mx1.example.com", "ok")))
    assert left.live is not None and left.live.verdict == "contradicted"


def test_the_schedule_retries_an_inconclusive_check_after_the_gap(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'tlsscope.db'}"
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    ingest(tmp_path / "a", db, "good.example",
           (Failure("certificate-expired", 2, "mx1.good.example", "127.0.0.2"),), yesterday)
    clock = Clock()
    with closed_port() as address, Store.open(db) as store:
        settings = msgspec.convert({"dns_nameserver": address, "check_timeout": 1,
                                    "check_unowned": True},
                                   Settings, strict=False)
        rechecker = Rechecker(store, settings, clock)
        assert rechecker.due() == ["good.example"]
        rechecker.check("good.example")
        history = store.read(checks_rows.history, "good.example")
        assert [c.status for c in history] == ["inconclusive"]
        queued = store.read(recheck_rows.state, "good.example")
        assert queued is not None and queued["checked_at"] is None
        assert store.read(checks_rows.latest, "good.example") is None
        # still waiting for a real check
        assert store.read(recheck_rows.failing) == {"good.example"}
        clock.now += dt.timedelta(minutes=59)
        assert rechecker.due() == []  # not at every look
        clock.now += dt.timedelta(minutes=2)
        assert rechecker.due() == ["good.example"]
