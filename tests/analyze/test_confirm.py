"""Evidence weighs what its source is worth (analyze/confirm.py): one forged HTTPS report from
a reporter never seen before raises no critical alarm; any independent backing confirms it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from sqlalchemy import text

from tests.support import reads
from tests.support.scenarios import Day, Failure, report
from tlsscope.analyze.confirm import weigh
from tlsscope.analyze.detectors import DomainFinding, detect
from tlsscope.analyze.detectors.model import LiveEvidence
from tlsscope.app import freshness
from tlsscope.parse import read_input
from tlsscope.store import Arrival, DkimVerdict, Store

DOMAIN = "shop.example"
TODAY = dt.date(2026, 11, 30)
EXPIRED = (Failure("certificate-expired", 1, f"mx2.{DOMAIN}"),)


def _store(store: Store, org: str, day: dt.date, failures: tuple[Failure, ...] = (),
           channel: str = "https", dkim: DkimVerdict | None = None, ok: int = 500,
           peer: str = "192.0.2.1", received: dt.date | None = None) -> None:
    data = json.dumps(report(DOMAIN, Day(org, day, ok, failures))).encode()
    [saved] = store.save([Arrival(hashlib.sha256(data).hexdigest(), f"{channel}:{peer}", data,
                                  dt.datetime.now(dt.UTC), read_input(data, "x"), dkim,
                                  channel, peer)])
    assert saved.stored == 1
    if received is not None:  # as if it had arrived that day
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE reports SET stored_at = :at WHERE id = "
                                    "(SELECT max(id) FROM reports)"),
                               {"at": dt.datetime.combine(received, dt.time(12), dt.UTC)})


def _history(store: Store) -> None:
    """Three weeks of clean reports from Google, ingested by the operator (files)."""
    for back in range(21, 0, -1):
        _store(store, "Google Inc.", TODAY - dt.timedelta(days=back), channel="file", peer="")


def _expiry(store: Store) -> DomainFinding:
    facts = reads.facts(store, DOMAIN, TODAY - dt.timedelta(days=29), TODAY)
    found = detect(facts)
    weigh(found, facts)
    [finding] = [f for f in found if f.result_type == "certificate-expired"]
    return finding


def test_one_forged_https_report_from_a_new_reporter_is_unconfirmed(store: Store) -> None:
    _history(store)
    _store(store, "Evil Corp", TODAY, EXPIRED)
    finding = _expiry(store)
    assert finding.confirmed is False
    assert finding.severity == "medium"  # never critical or high
    assert "Unconfirmed" in finding.explanation and "Evil Corp" in finding.explanation


@pytest.mark.parametrize("forgery", ["two names in one source", "two claimed days",
                                     "a backdated clean report first", "a known name"])
def test_what_a_forger_can_simply_write_confirms_nothing(store: Store, forgery: str) -> None:
    _history(store)
    if forgery == "two names in one source":  # e.g. a zip of two reports in one POST
        _store(store, "Org One", TODAY, EXPIRED)
        _store(store, "Org Two", TODAY, EXPIRED)
    elif forgery == "two claimed days":
        _store(store, "Evil Corp", TODAY - dt.timedelta(days=1), EXPIRED)
        _store(store, "Evil Corp", TODAY, EXPIRED)
    elif forgery == "a backdated clean report first":
        _store(store, "Evil Corp", TODAY - dt.timedelta(days=20))
        _store(store, "Evil Corp", TODAY, EXPIRED)
    else:  # Google's real reports came as files; this one claims its name over HTTPS
        _store(store, "Google Inc.", TODAY, EXPIRED, ok=0)
    finding = _expiry(store)
    assert finding.confirmed is False and finding.severity == "medium"


@pytest.mark.parametrize("backing", ["two reporters from two addresses", "dkim",
                                     "received on another day", "known sender",
                                     "operator's file", "live check"])
def test_independent_backing_confirms_it(store: Store, backing: str) -> None:
    _history(store)
    dkim_pass = DkimVerdict("pass", "evil.example", True, True, "")
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    if backing == "two reporters from two addresses":
        _store(store, "Evil Corp", TODAY, EXPIRED)
        _store(store, "Microsoft Corporation", TODAY, EXPIRED, peer="203.0.113.9")
    elif backing == "dkim":
        _store(store, "Evil Corp", TODAY, EXPIRED, channel="smtp", dkim=dkim_pass)
    elif backing == "received on another day":
        _store(store, "Evil Corp", TODAY - dt.timedelta(days=1), EXPIRED, received=yesterday)
        _store(store, "Evil Corp", TODAY, EXPIRED)
    elif backing == "known sender":  # the same sender, same address, reporting for days
        _store(store, "Evil Corp", TODAY - dt.timedelta(days=5), received=yesterday)
        _store(store, "Evil Corp", TODAY, EXPIRED)
    elif backing == "operator's file":
        _store(store, "Evil Corp", TODAY, EXPIRED, channel="file", peer="")
    else:
        _store(store, "Evil Corp", TODAY, EXPIRED)
    facts = reads.facts(store, DOMAIN, TODAY - dt.timedelta(days=29), TODAY)
    found = detect(facts)
    if backing == "live check":
        for f in found:
            f.live = LiveEvidence(checked_at=dt.datetime.now(dt.UTC), verdict="confirmed",
                                  summary="expired", targets=[], details=[])
    weigh(found, facts)
    [finding] = [f for f in found if f.result_type == "certificate-expired"]
    assert finding.confirmed is True
    assert finding.severity in ("critical", "high")
    assert "Unconfirmed" not in finding.explanation


def test_a_dkim_failure_is_no_authentication(store: Store) -> None:
    _history(store)
    _store(store, "Evil Corp", TODAY, EXPIRED, channel="smtp",
           dkim=DkimVerdict("fail", "evil.example", False, None, "bad signature"))
    assert _expiry(store).confirmed is False


def test_stored_findings_say_confirmed_false_in_every_language(store: Store) -> None:
    from tlsscope.app.findings import of_domain

    _history(store)
    _store(store, "Evil Corp", TODAY, EXPIRED)
    freshness.findings_now(store, now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    for lang, word in (("en", "Unconfirmed"), ("pt", "Não confirmado")):
        [finding] = [f for _, _, f in of_domain(store, DOMAIN, lang)
                     if f.result_type == "certificate-expired"]
        assert finding.confirmed is False and finding.severity == "medium"
        assert word in finding.explanation
