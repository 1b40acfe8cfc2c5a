"""Detectors over scenario data: several weeks of realistic reports from several reporters,
each series telling one story, given to the detectors as the facts a store returns for them,
built in memory (tests/app/test_facts_path.py holds a real store to those facts). Exact
findings, severities and status transitions."""

from __future__ import annotations

import datetime as dt

from tests.support.facts import reported
from tests.support.scenarios import Day, Failure, daily
from tests.support.stories import (
    DOMAIN,
    REPORTERS,
    START,
    assert_no_near_duplicates,
    detected,
    expiring_mx2,
    healthy,
)
from tlsscope.analyze.detectors import detect, novelty
from tlsscope.facts import DomainFacts, FailureRow, PolicyDay


def test_healthy_weeks_raise_nothing() -> None:
    days = healthy(28)
    assert detected(days, START + dt.timedelta(days=27)) == []


def test_expired_certificate_opens_then_resolves() -> None:
    days = expiring_mx2()
    (during,) = detected(days, dt.date(2026, 2, 12))
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
    (after,) = detected(days, dt.date(2026, 2, 28))
    assert (after.status, after.last_seen, after.sessions) == ("resolved",
                                                               dt.date(2026, 2, 14), 7 * 6)
    # On the last day it was seen, nobody has reported since: still open.
    (same_day,) = detected(days, dt.date(2026, 2, 14))
    assert same_day.status == "open"
    (in_pt,) = detected(days, dt.date(2026, 2, 12), lang="pt")
    assert in_pt.title == "mx2.example.com: O certificado do seu servidor de e-mail expirou"
    assert in_pt.severity == "critical"


def test_policy_404_for_one_reporter_only() -> None:
    days = healthy(21, mode="testing")
    days += [Day("Mail.ru", day, 0, [Failure("sts-policy-fetch-error", 3, "",
                                             reason="bad https response code: 404")],
                 mode="testing") for day in daily(START + dt.timedelta(days=21), 7)]
    days += [Day(org, day, ok, mode="testing") for day in
             daily(START + dt.timedelta(days=21), 7) for org, ok in REPORTERS[:2]]
    found, alone = detected(days, START + dt.timedelta(days=27))
    assert (alone.kind, alone.severity, alone.reporters, alone.sessions) == (
        "reporter-disagreement", "info", ["Mail.ru"], 21)
    assert alone.title == "Mail.ru sees failures that other reporters do not"
    assert alone.explanation.startswith(
        "Mail.ru: 21 failed sessions to example.com on 7 day(s), 100.0 % of its sessions those "
        "days. On those days, under the same policy, Google LLC and Microsoft Corporation "
        "failed less than 0.1 % of their sessions.")
    assert (found.kind, found.result_type, found.severity, found.status, found.mx_host) == (
        "mta-sts-policy", "sts-policy-fetch-error", "high", "open", "")
    assert found.reporters == ["Mail.ru"]
    assert found.sessions == 21
    assert found.first_seen == dt.date(2026, 2, 22)
    assert {e.reason_code for e in found.evidence} == {"bad https response code: 404"}


def test_starttls_and_dane_per_mx_with_mode_dependent_severity() -> None:
    days = [Day("Google LLC", day, 100, [Failure("starttls-not-supported", 2, f"mx3.{DOMAIN}")],
                mode="testing") for day in daily(START, 3)]
    days += [Day("Postfix Org", day, 50, [Failure("tlsa-invalid", 1, f"mx1.{DOMAIN}")],
                 mode="dane") for day in daily(START, 2)]
    found = detected(days, START + dt.timedelta(days=2))
    assert [(f.kind, f.mx_host, f.severity, f.sessions, f.status) for f in found] == [
        ("dane", "mx1.example.com", "critical", 2, "open"),
        ("starttls", "mx3.example.com", "high", 6, "open")]
    # What enforce would refuse (testing-would-block) is the STARTTLS failure's effect: one.
    assert found[1].also_seen_by == ["testing-would-block"]
    # Google is the only one to see mx3, and nobody got past STARTTLS there: no downgrade.
    assert not any(f.heuristic for f in found)


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


def test_testing_mode_with_clean_weeks_is_ready_for_enforce() -> None:
    days = healthy(28, mode="testing")
    (found,) = detected(days, START + dt.timedelta(days=27))
    assert (found.kind, found.severity, found.status) == ("ready-for-enforce", "info", "open")
    assert found.reporters == ["Google LLC", "Mail.ru", "Microsoft Corporation"]
    assert found.first_seen == START + dt.timedelta(days=14)
    assert found.sessions == 14 * (900 + 300 + 40)
    assert "mode: enforce" in found.fix[0]
    (in_pt,) = detected(days, START + dt.timedelta(days=27), lang="pt")
    assert in_pt.title == "Sua política MTA-STS pode passar de testing para enforce"
    # Thirteen clean days are not enough.
    assert detected(days, START + dt.timedelta(days=27), days=13) == []


def test_one_reporter_is_not_enough_for_enforce() -> None:
    days = [Day("Google LLC", day, 900, mode="testing") for day in daily(START, 28)]
    assert detected(days, START + dt.timedelta(days=27)) == []


def test_testing_failures_say_what_enforce_would_refuse() -> None:
    days = healthy(28, mode="testing")
    days[-1] = Day("Mail.ru", days[-1].day, 40, [
        Failure("certificate-host-mismatch", 5, f"mx1.{DOMAIN}"),
        Failure("sts-policy-fetch-error", 2, "")], mode="testing")
    kinds = {f.kind: f for f in detected(days, START + dt.timedelta(days=27))}
    # 7 sessions on one day are below the disagreement's MIN_SESSIONS; "new result type" and
    # "new failing MX" are the first days of the certificate and policy findings.
    # What enforce would refuse is the certificate failure's effect: one problem with it.
    assert set(kinds) == {"certificate", "mta-sts-policy"}
    assert set(kinds["certificate"].also_seen_by) == {"new-result-type", "new-failing-mx",
                                                      "testing-would-block"}
    assert kinds["mta-sts-policy"].also_seen_by == ["new-result-type"]
    # A policy a sender cannot fetch is no policy, not a refusal (RFC 8461 §5): 5, not 7.
    said = kinds["certificate"].explanation
    assert "Other detectors saw the same cause: " in said
    for title in ("A new kind of failure for example.com: certificate-host-mismatch",
                  "mx1.example.com started failing",
                  "Under enforce, 5 sessions would have been refused"):
        assert title in said.partition("Other detectors saw the same cause: ")[2]
    assert_no_near_duplicates(list(kinds.values()))


def test_no_policy_found() -> None:
    days = healthy(3, mode="none")
    (found,) = detected(days, START + dt.timedelta(days=2))
    assert (found.kind, found.severity, found.sessions) == ("no-policy", "medium",
                                                            3 * (900 + 300 + 40))
    assert found.title == "Senders found no MTA-STS or DANE policy for example.com"


def test_mx_outside_the_policy_patterns() -> None:
    days = healthy(5)
    days.append(Day("Google LLC", START + dt.timedelta(days=5), 800, [
        Failure("validation-failure", 7, "mx9.backup.example.net"),
        Failure("validation-failure", 1, "a.b.example.com")]))
    found = sorted((f for f in detected(days, START + dt.timedelta(days=5))
                    if f.kind == "mx-outside-policy"), key=lambda f: f.mx_host)
    # *.example.com covers exactly one label: a.b.example.com is outside too (RFC 8461 §4.1).
    # The validation failures there are the same cause: one finding each, as severe as the
    # validation failure under enforce.
    assert [(f.mx_host, f.severity, f.sessions, f.also_seen_by) for f in found] == [
        ("a.b.example.com", "critical", 1, ["validation"]),
        ("mx9.backup.example.net", "critical", 7, ["validation"])]
    assert "*.example.com" in found[1].explanation
    assert not [f for f in detected(days, START + dt.timedelta(days=5)) if f.kind == "validation"]


def test_reporter_gone_silent() -> None:
    days = [Day("Google LLC", day, 900) for day in daily(START, 20)]
    days += [Day("Mail.ru", day, 40) for day in daily(START, 10)]
    days += [Day("Microsoft Corporation", day, 300) for day in daily(START, 20)[::2][:5]]
    (found,) = detected(days, START + dt.timedelta(days=19))
    assert (found.kind, found.severity, found.reporters) == ("reporter-silent", "info",
                                                             ["Mail.ru"])
    assert found.last_seen == START + dt.timedelta(days=9)
    assert "on 10 of the 10 days up to 2026-02-10" in found.explanation


def test_possible_downgrade_is_a_labelled_heuristic() -> None:
    days = []
    for day in daily(START, 4):
        days.append(Day("Mail.ru", day, 30, [
            Failure("starttls-not-supported", 6, f"mx1.{DOMAIN}", sending_ip="203.0.113.5")]))
        days.append(Day("Google LLC", day, 900, [
            Failure("certificate-host-mismatch", 1, f"mx1.{DOMAIN}")]))
    found = {f.kind: f for f in detected(days, START + dt.timedelta(days=3))}
    downgrade = found["possible-downgrade"]
    assert downgrade.heuristic is True
    assert (downgrade.mx_host, downgrade.reporters, downgrade.sessions) == (
        "mx1.example.com", ["Mail.ru"], 24)
    assert downgrade.explanation.startswith("Heuristic: Mail.ru saw mx1.example.com without "
                                            "STARTTLS (24 sessions), yet the reports show")
    assert "Google LLC got past STARTTLS" in downgrade.explanation
    assert downgrade.basis == ["after-starttls", "only-mx-seen", "own-successes"]
    assert {e.sending_ip for e in downgrade.evidence} == {"203.0.113.5"}
    # The starttls finding of the same rows is the same cause, not a second finding that
    # says the MX offers no STARTTLS when the evidence says it does.
    assert "starttls" not in found
    assert downgrade.also_seen_by == ["starttls"]
    assert downgrade.severity == "critical"  # starttls-not-supported under enforce
    assert_no_near_duplicates(list(found.values()))


def test_failure_spike_against_the_domains_own_baseline() -> None:
    days = []
    for n, day in enumerate(daily(START, 15)):
        # A domain that always has about 1 % failures; on the last day 12 %, at two new MX
        # hosts at once: no one finding explains the jump, so it is a finding of its own.
        failures = [Failure("certificate-host-mismatch", 10, f"mx1.{DOMAIN}")]
        if n == 14:
            failures += [Failure("starttls-not-supported", 55, f"mx3.{DOMAIN}"),
                         Failure("validation-failure", 55, f"mx4.{DOMAIN}")]
        days.append(Day("Google LLC", day, 1000 - sum(f.sessions for f in failures),
                        failures))
        days.append(Day("Microsoft Corporation", day, 300))
    spikes = [f for f in detected(days, START + dt.timedelta(days=14))
              if f.kind == "failure-spike"]
    (spike,) = spikes
    assert (spike.severity, spike.first_seen, spike.sessions) == ("high", dt.date(2026, 2, 15),
                                                                 120)
    assert spike.title == "Failures to example.com jumped on 2026-02-15"
    assert "9.2 % of sessions" in spike.explanation and "usual 0.8 %" in spike.explanation
    # The day before, the same 0.8 % as always: no spike.
    assert not [f for f in detected(days, START + dt.timedelta(days=13))
                if f.kind == "failure-spike"]


def test_new_reporter_result_type_and_failing_mx() -> None:
    days = healthy(10)
    last = START + dt.timedelta(days=10)
    days += [Day("Google LLC", last, 900, [Failure("starttls-not-supported", 3, f"mx4.{DOMAIN}")]),
             Day("Microsoft Corporation", last, 300), Day("Yahoo", last, 20)]
    found = {f.kind: f for f in detected(days, last)}
    # Google's 3 failed of 903 sessions (0.3 %) are no material disagreement; the new MX
    # and result type are the first days of the starttls finding.
    assert set(found) == {"starttls", "new-reporter"}
    assert (found["new-reporter"].reporters, found["new-reporter"].severity) == (["Yahoo"],
                                                                                "info")
    assert found["starttls"].also_seen_by == ["new-result-type", "new-failing-mx"]
    assert ("A new kind of failure for example.com: starttls-not-supported; "
            "mx4.example.com started failing.") in found["starttls"].explanation
    alone = novelty.detect(reported(DOMAIN, days, START, last))
    assert {f.kind: f.mx_host for f in alone} == {"new-result-type": "",
                                                  "new-failing-mx": "mx4.example.com",
                                                  "new-reporter": ""}
    assert "in the 9 days of reports" in alone[1].explanation
    # Two days later, with the same failure every day, it is no longer new.
    days += [Day("Google LLC", last + dt.timedelta(days=n), 900,
                 [Failure("starttls-not-supported", 3, f"mx4.{DOMAIN}")]) for n in (1, 2)]
    later = {f.kind for f in detected(days, last + dt.timedelta(days=2))}
    assert "new-failing-mx" not in later and "new-result-type" not in later


def test_failures_where_reports_are_delivered_are_marked_as_a_report_loop() -> None:
    from tlsscope.settings import Settings

    rua = "reports.example.net"
    days = [Day(org, day, ok, [Failure("certificate-expired", 2, f"mx.{rua}")])
            for day in daily(START, 3) for org, ok in REPORTERS[:2]]
    facts = reported(rua, days, START, START + dt.timedelta(days=2))
    (plain,) = detect(facts)
    assert plain.report_loop is False
    settings = Settings(rua_addresses=["tlsrpt@Reports.Example.NET", "other@example.org"])
    assert settings.report_domains == ["example.org", "reports.example.net"]
    (looped,) = detect(facts, "en", settings.report_domains)
    assert looped.report_loop is True
    assert looped.explanation.endswith("tlsscope does not alert on them.")
    (in_pt,) = detect(facts, "pt", settings.report_domains)
    assert "relatórios TLS são entregues neste domínio" in in_pt.explanation
    # Another domain is not marked.
    other = [Day("Google LLC", START, 10, [Failure("certificate-expired", 1, "mx.example.com")])]
    (elsewhere,) = detect(reported(DOMAIN, other, START, START), "en", settings.report_domains)
    assert elsewhere.report_loop is False


def test_validation_failures_and_unknown_result_types_are_not_dropped() -> None:
    days = [Day("Google LLC", day, 100, [
        Failure("validation-failure", 2, f"mx1.{DOMAIN}"),
        Failure("x-vendor-oddity", 1, f"mx1.{DOMAIN}")]) for day in daily(START, 2)]
    found = {f.kind: f for f in detected(days, START + dt.timedelta(days=1))}
    assert set(found) == {"validation", "unknown-result-type"}
    assert (found["validation"].sessions, found["validation"].mx_host) == (4, "mx1.example.com")
    odd = found["unknown-result-type"]
    assert (odd.result_type, odd.sessions) == ("x-vendor-oddity", 2)
    assert odd.title == "mx1.example.com: An unknown result type: x-vendor-oddity"


def test_a_mode_no_report_quoted_is_said_to_be_unquoted() -> None:
    """Mail.ru gives no policy-string: its findings say the mode was not quoted, give the
    effect under both modes, and take testing's severity (nothing says mail was refused)."""
    from tests.support.facts import facts, failure, policy

    day = dt.date(2026, 2, 3)
    found = detect(facts([policy("Mail.ru", day, 0, 3, mode="", patterns=())],
                         [failure("Mail.ru", day, "certificate-expired", 3, "mx1.example.com",
                                  mode="")]))
    (expired,) = found
    assert (expired.kind, expired.severity) == ("certificate", "high")
    assert "The report did not quote your MTA-STS policy's mode" in expired.explanation
    assert "Under enforce: Senders honouring your enforce policy do not deliver" in (
        expired.explanation)
    assert "testing mode" not in expired.explanation
    (in_pt,) = detect(facts([policy("Mail.ru", day, 0, 3, mode="", patterns=())],
                            [failure("Mail.ru", day, "certificate-expired", 3,
                                     "mx1.example.com", mode="")]), "pt")
    assert "não citou o modo" in in_pt.explanation
