"""Evidence weighs what its source is worth (analyze/confirm.py): one forged HTTPS report from
a reporter never seen before raises no critical alarm; any independent backing confirms it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from tests.analyze.scenarios import Day, Failure, report
from tlsscope.analyze.confirm import weigh
from tlsscope.analyze.detectors import DomainFinding, detect
from tlsscope.analyze.live import LiveEvidence
from tlsscope.parse import read_input
from tlsscope.store import Arrival, DkimVerdict, Store

DOMAIN = "shop.example"
TODAY = dt.date(2026, 11, 30)
EXPIRED = (Failure("certificate-expired", 1, f"mx2.{DOMAIN}"),)


def _store(store: Store, org: str, day: dt.date, failures: tuple[Failure, ...] = (),
           channel: str = "https", dkim: DkimVerdict | None = None, ok: int = 500) -> None:
    data = json.dumps(report(DOMAIN, Day(org, day, ok, failures))).encode()
    store.save([Arrival(hashlib.sha256(data).hexdigest(), f"{channel}:192.0.2.1", data,
                        dt.datetime.now(dt.UTC), read_input(data, "x"), dkim, channel,
                        "192.0.2.1")])


def _history(store: Store) -> None:
    """Three weeks of clean reports from Google, ingested by the operator (files)."""
    for back in range(21, 0, -1):
        _store(store, "Google Inc.", TODAY - dt.timedelta(days=back), channel="file")


def _expiry(store: Store) -> DomainFinding:
    facts = store.facts(DOMAIN, TODAY - dt.timedelta(days=29), TODAY)
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


@pytest.mark.parametrize("backing", ["second reporter", "dkim", "another day", "known reporter",
                                     "operator's file", "live check"])
def test_independent_backing_confirms_it(store: Store, backing: str) -> None:
    _history(store)
    dkim_pass = DkimVerdict("pass", "evil.example", True, True, "")
    if backing == "second reporter":
        _store(store, "Evil Corp", TODAY, EXPIRED)
        _store(store, "Microsoft Corporation", TODAY, EXPIRED)
    elif backing == "dkim":
        _store(store, "Evil Corp", TODAY, EXPIRED, channel="smtp", dkim=dkim_pass)
    elif backing == "another day":
        _store(store, "Evil Corp", TODAY - dt.timedelta(days=1), EXPIRED)
        _store(store, "Evil Corp", TODAY, EXPIRED)
    elif backing == "known reporter":
        _store(store, "Evil Corp", TODAY - dt.timedelta(days=5))  # clean, days before
        _store(store, "Evil Corp", TODAY, EXPIRED)
    elif backing == "operator's file":
        _store(store, "Evil Corp", TODAY, EXPIRED, channel="file")
    else:
        _store(store, "Evil Corp", TODAY, EXPIRED)
    facts = store.facts(DOMAIN, TODAY - dt.timedelta(days=29), TODAY)
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
    from tlsscope.store.findings_rows import localized

    _history(store)
    _store(store, "Evil Corp", TODAY, EXPIRED)
    store.refresh_findings(now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    for lang, word in (("en", "Unconfirmed"), ("pt", "Não confirmado")):
        [finding] = [f for _, _, f in store.read(localized, DOMAIN, lang)
                     if f.result_type == "certificate-expired"]
        assert finding.confirmed is False and finding.severity == "medium"
        assert word in finding.explanation
