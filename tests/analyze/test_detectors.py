"""Detectors over scenario data: several weeks of realistic reports from several reporters,
each series telling one story, ingested into a real SQLite store (and, for the pure cases,
given to the detectors directly). Exact findings, severities and status transitions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.analyze.scenarios import Day, Failure, daily, write
from tests.cli.test_parse_cmd import tlsscope
from tests.store.helpers import ingest_paths
from tlsscope.analyze.detectors import DomainFinding, detect
from tlsscope.analyze.facts import DomainFacts, FailureRow, PolicyDay
from tlsscope.store import Store

DOMAIN = "example.com"
START = dt.date(2026, 2, 1)
REPORTERS = (("Google LLC", 900), ("Microsoft Corporation", 300), ("Mail.ru", 40))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'tlsscope.db'}")
    try:
        yield opened
    finally:
        opened.close()


def findings(store: Store, until: dt.date, days: int = 28, lang: str = "en") -> list[DomainFinding]:
    return detect(store.facts(DOMAIN, until - dt.timedelta(days=days - 1), until), lang)


def healthy(days: int, mode: str = "enforce") -> list[Day]:
    return [Day(org, day, ok, mode=mode) for day in daily(START, days) for org, ok in REPORTERS]


def test_healthy_weeks_raise_nothing(store: Store, tmp_path: Path) -> None:
    ingest_paths(store, write(tmp_path / "r", DOMAIN, healthy(28)))
    assert findings(store, START + dt.timedelta(days=27)) == []


def expiring_mx2() -> list[Day]:
    """mx2's certificate expires on 8 Feb and is renewed on 15 Feb; Google and Microsoft see
    it (Mail.ru only ever reaches mx1)."""
    days = []
    for day in daily(START, 28):
        broken = dt.date(2026, 2, 8) <= day <= dt.date(2026, 2, 14)
        for org, ok in REPORTERS:
            failures = [Failure("certificate-expired", 4 if org == "Google LLC" else 2,
                                f"mx2.{DOMAIN}", receiving_ip="192.0.2.2",
                                reason="X509_V_ERR_CERT_HAS_EXPIRED")] \
                if broken and org != "Mail.ru" else []
            days.append(Day(org, day, ok, failures))
    return days


def test_expired_certificate_opens_then_resolves(store: Store, tmp_path: Path) -> None:
    ingest_paths(store, write(tmp_path / "r", DOMAIN, expiring_mx2()))
    (during,) = findings(store, dt.date(2026, 2, 12))
    assert (during.kind, during.severity, during.status, during.mx_host, during.receiving_ip,
            during.result_type) == ("certificate", "critical", "open", "mx2.example.com",
                                    "192.0.2.2", "certificate-expired")
    assert during.reporters == ["Google LLC", "Microsoft Corporation"]
    assert (during.first_seen, during.last_seen, during.sessions) == (
        dt.date(2026, 2, 8), dt.date(2026, 2, 12), 5 * 6)
    assert len(during.evidence) == 10
    assert {e.reason_code for e in during.evidence} == {"X509_V_ERR_CERT_HAS_EXPIRED"}
    assert during.title == "mx2.example.com: The certificate on your mail server has expired"
    assert "Renew the certificate" in during.fix[0]
    (after,) = findings(store, dt.date(2026, 2, 28))
    assert (after.status, after.last_seen, after.sessions) == ("resolved",
                                                               dt.date(2026, 2, 14), 7 * 6)
    # On the last day it was seen, nobody has reported since: still open.
    (same_day,) = findings(store, dt.date(2026, 2, 14))
    assert same_day.status == "open"
    (in_pt,) = findings(store, dt.date(2026, 2, 12), lang="pt")
    assert in_pt.title == "mx2.example.com: O certificado do seu servidor de e-mail expirou"
    assert in_pt.severity == "critical"


def test_policy_404_for_one_reporter_only(store: Store, tmp_path: Path) -> None:
    days = healthy(21, mode="testing")
    days += [Day("Mail.ru", day, 0, [Failure("sts-policy-fetch-error", 3, "",
                                             reason="bad https response code: 404")],
                 mode="testing") for day in daily(START + dt.timedelta(days=21), 7)]
    days += [Day(org, day, ok, mode="testing") for day in
             daily(START + dt.timedelta(days=21), 7) for org, ok in REPORTERS[:2]]
    ingest_paths(store, write(tmp_path / "r", DOMAIN, days))
    (found,) = findings(store, START + dt.timedelta(days=27))
    assert (found.kind, found.result_type, found.severity, found.status, found.mx_host) == (
        "mta-sts-policy", "sts-policy-fetch-error", "high", "open", "")
    assert found.reporters == ["Mail.ru"]
    assert found.sessions == 21
    assert found.first_seen == dt.date(2026, 2, 22)
    assert {e.reason_code for e in found.evidence} == {"bad https response code: 404"}


def test_starttls_and_dane_per_mx_with_mode_dependent_severity(store: Store,
                                                               tmp_path: Path) -> None:
    days = [Day("Google LLC", day, 100, [Failure("starttls-not-supported", 2, f"mx3.{DOMAIN}")],
                mode="testing") for day in daily(START, 3)]
    days += [Day("Postfix Org", day, 50, [Failure("tlsa-invalid", 1, f"mx1.{DOMAIN}")],
                 mode="dane") for day in daily(START, 2)]
    ingest_paths(store, write(tmp_path / "r", DOMAIN, days))
    found = findings(store, START + dt.timedelta(days=2))
    assert [(f.kind, f.mx_host, f.severity, f.sessions, f.status) for f in found] == [
        ("dane", "mx1.example.com", "critical", 2, "open"),
        ("starttls", "mx3.example.com", "high", 6, "open")]


def test_sts_and_tlsa_rows_of_the_same_sessions_count_once() -> None:
    day = dt.date(2026, 2, 3)
    policies = [PolicyDay(report_key="k1", reporter="Org", day=day, policy_type=kind,
                          mode=mode, successful=10, failed=4, counted=kind == "sts")
                for kind, mode in (("sts", "enforce"), ("tlsa", ""))]
    rows = [FailureRow(report_key="k1", reporter="Org", day=day, policy_type=kind, mode=mode,
                       result_type="certificate-host-mismatch", sessions=4,
                       mx_host="mx.example.com", receiving_ip="", sending_ip="",
                       reason_code="", counted=kind == "sts")
            for kind, mode in (("sts", "enforce"), ("tlsa", ""))]
    facts = DomainFacts(domain=DOMAIN, since=day, until=day, policies=policies, failures=rows)
    (found,) = detect(facts)
    assert found.sessions == 4
    assert len(found.evidence) == 1


def test_findings_command_contract(store: Store, tmp_path: Path) -> None:
    ingest_paths(store, write(tmp_path / "r", DOMAIN, expiring_mx2()))
    url = str(store.engine.url)
    done = tlsscope("findings", "--until", "2026-02-28", "--status", "all", "--json",
                    "--db", url)
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)
    assert {"kind", "severity", "domain", "mx_host", "result_type", "reporters", "first_seen",
            "last_seen", "sessions", "status", "title", "explanation", "fix",
            "evidence"} <= set(entry)
    assert (entry["domain"], entry["status"], entry["first_seen"]) == (
        "example.com", "resolved", "2026-02-08")
    assert entry["evidence"][0]["report_key"]
    open_only = json.loads(tlsscope("findings", "--until", "2026-02-28", "--json",
                                    "--db", url).stdout)
    assert open_only == []
    text = tlsscope("findings", "--until", "2026-02-12", "--db", url).stdout.decode()
    assert "CRITICAL [open] mx2.example.com" in text
