"""The findings a user sees (app/findings.py): the status filter, one set of words for the
CLI, the pages and the API, and which findings it keeps; stored findings listed within the
user's scope."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.support.ingest import ingest_paths
from tests.support.scenarios import write
from tests.support.stories import DOMAIN, expiring_mx2
from tlsscope.analyze.detectors import DomainFinding
from tlsscope.app import freshness
from tlsscope.app.findings import ALL, STATUSES, listing, shown, status_filter
from tlsscope.app.scope import OPERATOR, Scope
from tlsscope.errors import Invalid, NotFound
from tlsscope.store import Store
from tlsscope.store.accounts import User
from tlsscope.vocab import FindingStatus, Severity

DAY = dt.date(2026, 2, 12)


def finding(status: FindingStatus) -> DomainFinding:
    return DomainFinding(
        kind="certificate", severity=Severity.CRITICAL, domain=DOMAIN, mx_host=f"mx2.{DOMAIN}",
        receiving_ip="", result_type="certificate-expired", reporters=["Google LLC"],
        first_seen=DAY, last_seen=DAY, sessions=4, status=status, title="t", explanation="e",
        fix=[], evidence=[])


def test_the_status_filter_takes_the_same_words_everywhere() -> None:
    assert STATUSES == ("open", "likely-fixed", "resolved", "all")
    for status in STATUSES:
        assert status_filter(status) == status
    for wrong in ("closed", "OPEN", ""):
        with pytest.raises(Invalid) as raised:
            status_filter(wrong)
        assert raised.value.field == "status"
        assert raised.value.message == "status must be one of open, likely-fixed, resolved, all"


def test_open_keeps_everything_not_resolved() -> None:
    opened, likely, resolved = (finding(s) for s in FindingStatus)
    assert [shown(f, FindingStatus.OPEN) for f in (opened, likely, resolved)] == [
        True, True, False]
    assert [shown(f, FindingStatus.LIKELY_FIXED) for f in (opened, likely, resolved)] == [
        False, True, False]
    assert [shown(f, FindingStatus.RESOLVED) for f in (opened, likely, resolved)] == [
        False, False, True]
    assert [shown(f, ALL) for f in (opened, likely, resolved)] == [True, True, True]
    assert shown(likely, "likely-fixed") and shown(resolved, "resolved")  # the words as given


def test_stored_findings_listed_by_status_within_the_scope(store: Store,
                                                            tmp_path: Path) -> None:
    ingest_paths(store, write(tmp_path / "r", DOMAIN, expiring_mx2()))
    assert freshness.findings_now(store) == [DOMAIN]  # over the 30 days up to the last report
    assert listing(store, OPERATOR, DOMAIN, "en") == []  # renewed since: resolved
    (view,) = listing(store, OPERATOR, DOMAIN, "en", ALL)
    assert (view.finding.kind, view.finding.status) == ("certificate", "resolved")
    assert listing(store, OPERATOR, None, "en", "resolved") == [view]
    assert listing(store, OPERATOR, None, "pt", "resolved")[0].finding.title == (
        "mx2.example.com: O certificado do seu servidor de e-mail expirou")
    with pytest.raises(Invalid):
        listing(store, OPERATOR, DOMAIN, "en", "closed")
    member = Scope(User(id=7, email="ana@acme.example", name="Ana", role="member",
                        organisation=1, organisation_name="Acme Retail", lang=""),
                   ["shop.example"])
    assert listing(store, member, None, "en", ALL) == []  # not hers: not listed
    with pytest.raises(NotFound):
        listing(store, member, DOMAIN, "en", ALL)  # nor found when asked for
