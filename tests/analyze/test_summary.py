"""The translated report: scenario reports ingested into a real SQLite store, then summarised."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from tests.support import reads
from tests.support.cli import tlsscope
from tests.support.ingest import ingest_paths
from tests.support.scenarios import Day, Failure, daily, report, write
from tlsscope.analyze.confirm import weigh
from tlsscope.analyze.detectors import DomainFinding, detect
from tlsscope.analyze.summary import HealthSummary, summarize, unconfirmed_problems
from tlsscope.facts import DomainStats, FailureGroup
from tlsscope.parse import read_input
from tlsscope.store import Arrival, Store
from tlsscope.vocab import FindingStatus, Severity

START = dt.date(2026, 3, 1)
LAST = dt.date(2026, 3, 14)
DOMAIN = "example.com"


def expired_mx2(folder: Path) -> list[Path]:
    """mx2's certificate expires on 8 March; Google and Microsoft both see it (enforce)."""
    days = []
    for day in daily(START, 14):
        broken = day >= dt.date(2026, 3, 8)
        days.append(Day("Google LLC", day, 800, [
            Failure("certificate-expired", 5, f"mx2.{DOMAIN}")] if broken else []))
        days.append(Day("Microsoft Corporation", day, 300, [
            Failure("certificate-expired", 3, f"mx2.{DOMAIN}", sending_ip="198.51.100.9")]
            if broken else []))
    return write(folder, DOMAIN, days)


def summary_of(store: Store, days: int = 7, lang: str = "en") -> HealthSummary:
    first = LAST - dt.timedelta(days=days - 1)
    return summarize(reads.stats(store, DOMAIN, first, LAST),
                     reads.failures(store, DOMAIN, first, LAST), lang)


def test_expired_certificate_on_one_mx(store: Store, tmp_path: Path) -> None:
    ingest_paths(store, expired_mx2(tmp_path / "reports"))
    found = summary_of(store)
    assert found.sentences == [
        "Over the last 7 days (2026-03-08 to 2026-03-14), 2 organisations reported 7,756 "
        "sessions to example.com; 99.2 % used TLS successfully.",
        "Senders found your MTA-STS policy in enforce mode: they refuse to deliver to an MX "
        "that fails these checks.",
        "56 sessions failed, all at mx2.example.com: The certificate on your mail server has "
        "expired.",
        "Seen by Google LLC and Microsoft Corporation, who agree, from 2026-03-08 to "
        "2026-03-14.",
        "Senders honouring your enforce policy do not deliver to this MX.",
    ]
    (problem,) = found.problems
    assert (problem.result_type, problem.mx_host, problem.sessions, problem.mode,
            problem.severity) == ("certificate-expired", "mx2.example.com", 56, "enforce",
                                  "critical")
    assert problem.reporters == ["Google LLC", "Microsoft Corporation"]
    assert (found.successful, found.failed, found.reporters) == (7700, 56, 2)


def test_same_story_in_portuguese(store: Store, tmp_path: Path) -> None:
    ingest_paths(store, expired_mx2(tmp_path / "reports"))
    found = summary_of(store, lang="pt")
    assert found.sentences[0] == (
        "Nos últimos 7 dias (2026-03-08 a 2026-03-14), 2 organizações relataram 7.756 sessões "
        "para example.com; 99,2 % usaram TLS com sucesso.")
    assert found.sentences[2] == (
        "56 sessões falharam, todas em mx2.example.com: O certificado do seu servidor de "
        "e-mail expirou.")
    assert found.sentences[3].startswith("Visto por Google LLC e Microsoft Corporation")


def test_healthy_week_raises_no_problem(store: Store, tmp_path: Path) -> None:
    ingest_paths(store, expired_mx2(tmp_path / "reports"))
    first, last = START, dt.date(2026, 3, 7)
    found = summarize(reads.stats(store, DOMAIN, first, last),
                      reads.failures(store, DOMAIN, first, last))
    assert found.problems == []
    assert found.sentences[0].endswith("7,700 sessions to example.com; 100.0 % used TLS "
                                       "successfully.")
    assert found.sentences[-1] == "No session failed."


def test_no_reports_is_said_plainly() -> None:
    first = LAST - dt.timedelta(days=6)
    nothing = DomainStats(domain=DOMAIN, since=first, until=LAST, successful=0, failed=0,
                          reports=0, days=[], by_policy=[], by_reporter=[], by_result_type=[],
                          by_mx=[])  # what the store answers for a domain it has no report of
    found = summarize(nothing, [])
    assert found.sentences == ["No organisation sent a report about example.com from "
                               "2026-03-08 to 2026-03-14."]
    assert found.success_rate is None


def test_several_problems_ranked_by_sessions_in_testing_mode(store: Store,
                                                             tmp_path: Path) -> None:
    days = []
    for n, day in enumerate(daily(dt.date(2026, 3, 8), 7)):
        days.append(Day("Google LLC", day, 100, [
            Failure("starttls-not-supported", 10, f"mx3.{DOMAIN}"),
            Failure("certificate-host-mismatch", 2, ""),
            *([Failure("sts-policy-fetch-error", 1, "")] if n == 0 else []),
            *([Failure("validation-failure", 1, f"mx1.{DOMAIN}")] if n == 1 else []),
        ], mode="testing"))
    ingest_paths(store, write(tmp_path / "reports", DOMAIN, days))
    found = summary_of(store)
    assert [(p.result_type, p.mx_host, p.sessions) for p in found.problems] == [
        ("starttls-not-supported", "mx3.example.com", 70),
        ("certificate-host-mismatch", "", 14),
        ("sts-policy-fetch-error", "", 1),
        ("validation-failure", "mx1.example.com", 1),
    ]
    assert {p.mode for p in found.problems} == {"testing"}
    assert found.sentences[2] == "86 sessions failed, in 4 different ways or places:"
    assert found.sentences[3].startswith("70 at mx3.example.com: ")
    assert found.sentences[6] == ("14 at an MX the reports did not name: The certificate does "
                                  "not name your mail server.")
    assert found.sentences[-1] == "And 1 smaller problem; see the detail."
    assert "testing" in found.sentences[1]


@pytest.mark.server  # runs the CLI as a process
def test_summary_command_escapes_report_strings(store: Store, tmp_path: Path) -> None:
    evil = "Evil\x1b[31m [bold]Org[/bold]"
    paths = write(tmp_path / "reports", DOMAIN, [
        Day(evil, dt.date(2026, 3, 10), 10, [Failure("certificate-expired", 1,
                                                       "mx\x07.example.com")])])
    ingest_paths(store, paths)
    url = str(store.engine.url)
    done = tlsscope("summary", DOMAIN, "--until", "2026-03-14", "--db", url)
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert "\x1b" not in text and "\x07" not in text
    assert "[bold]Org[/bold]" in text  # shown as text, not taken as markup
    as_json = json.loads(tlsscope("summary", DOMAIN, "--until", "2026-03-14", "--db", url,
                                  "--json").stdout)
    assert as_json["problems"][0]["reporters"] == [evil]
    assert as_json["failed"] == 1


def test_a_report_without_policy_string_is_not_given_a_mode(store: Store) -> None:
    """Mail.ru sends no policy-string, so no mode: no sentence may name one."""
    real = Path(__file__).parents[1] / "fixtures" / "real"
    ingest_paths(store, [real / "mailru-parsedmarc-two-fetch-errors.json"])
    day = dt.date(2024, 2, 22)
    for lang, unquoted, named in (("en", "did not quote its mode", "testing mode"),
                                  ("pt", "não citaram o modo", "modo testing")):
        found = summarize(reads.stats(store, "example.com", day, day),
                          reads.failures(store, "example.com", day, day), lang)
        text = " ".join(found.sentences)
        assert found.mode == "unquoted"
        assert unquoted in found.sentences[1]
        assert named not in text and "enforce mode" not in text
        assert {p.mode for p in found.problems} == {"unquoted"}
        assert found.problems[0].effect.startswith(
            "The report did not quote" if lang == "en" else "O relatório não citou")


FORGED = "victim.example"
TODAY = dt.date(2026, 11, 30)


def _save(store: Store, org: str, day: dt.date, failures: list[Failure], channel: str) -> None:
    data = json.dumps(report(FORGED, Day(org, day, 500, failures))).encode()
    peer = "192.0.2.1" if channel == "https" else ""
    store.save([Arrival(hashlib.sha256(data).hexdigest(), f"{channel}:{peer}", data,
                        dt.datetime.now(dt.UTC), read_input(data, "x"), None, channel, peer)])


def _forged_expiry(store: Store) -> tuple[DomainStats, list[FailureGroup], list[DomainFinding]]:
    """Three weeks of clean operator files, then one HTTPS report from a new reporter claiming
    an expired certificate: its finding is unconfirmed (analyze/confirm.py)."""
    for back in range(21, 0, -1):
        _save(store, "Google Inc.", TODAY - dt.timedelta(days=back), [], "file")
    _save(store, "Evil Corp", TODAY, [Failure("certificate-expired", 1, f"mx2.{FORGED}")],
          "https")
    first = TODAY - dt.timedelta(days=6)
    facts = reads.facts(store, FORGED, TODAY - dt.timedelta(days=29), TODAY)
    found = detect(facts)
    weigh(found, facts)
    return (reads.stats(store, FORGED, first, TODAY), reads.failures(store, FORGED, first, TODAY),
            found)


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "Unconfirmed: this rests only on unauthenticated reports (Evil Corp)"),
    ("pt", "Não confirmado: isto se apoia apenas em relatórios não autenticados (Evil Corp)")])
def test_a_problem_resting_on_one_forged_report_is_unconfirmed(store: Store, lang: str,
                                                               said: str) -> None:
    stats, failures, found = _forged_expiry(store)
    shaky = unconfirmed_problems(found)
    assert shaky == {("certificate-expired", f"mx2.{FORGED}")}
    (problem,) = summarize(stats, failures, lang, shaky).problems
    assert (problem.confirmed, problem.severity) == (False, "medium")  # as `findings` says
    text = summarize(stats, failures, lang, shaky).sentences
    assert sum(said in s for s in text) == 1
    alone = summarize(stats, failures, lang)  # without the findings: as before, critical
    assert (alone.problems[0].confirmed, alone.problems[0].severity) == (True, "critical")
    assert not any(said in s for s in alone.sentences)


def test_one_confirmed_finding_confirms_the_problem() -> None:
    day = dt.date(2026, 3, 1)

    def finding(confirmed: bool, status: FindingStatus = FindingStatus.OPEN,
                mx: str = "mx2.d") -> DomainFinding:
        return DomainFinding(
            kind="by-result", severity=Severity.MEDIUM, domain="d", mx_host=mx, receiving_ip="",
            result_type="certificate-expired", reporters=["R"], first_seen=day, last_seen=day,
            sessions=1, status=status, title="", explanation="", fix=[], evidence=[],
            confirmed=confirmed)

    assert unconfirmed_problems([finding(False), finding(True)]) == set()
    assert unconfirmed_problems([finding(False), finding(True, FindingStatus.RESOLVED)]) == {
        ("certificate-expired", "mx2.d")}
    assert unconfirmed_problems([finding(False, mx="")]) == {("certificate-expired", "")}


@pytest.mark.server  # runs the CLI as a process
def test_summary_command_marks_the_unconfirmed_problem(store: Store) -> None:
    _forged_expiry(store)
    url = str(store.engine.url)
    args = ("summary", FORGED, "--until", TODAY.isoformat(), "--db", url)
    as_json = json.loads(tlsscope(*args, "--json").stdout)
    (problem,) = as_json["problems"]
    assert (problem["confirmed"], problem["severity"]) == (False, "medium")
    assert any(s.startswith("Unconfirmed: ") for s in as_json["sentences"])
    text = tlsscope(*args).stdout.decode()
    assert "medium (unconfirmed)" in text and "critical" not in text


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", ["On 2024-02-22, 1 organisation reported 1 session to example.com; 0.0 % used TLS "
            "successfully.",
            "1 session failed (the failure rows list 2), all at an MX the reports did not name: "
            "Senders could not download your MTA-STS policy."]),
    ("pt", ["Em 2024-02-22, 1 organização relatou 1 sessão para example.com; 0,0 % usaram TLS "
            "com sucesso.",
            "1 sessão falhou (as linhas de falha somam 2), todas em um MX que os relatórios não "
            "nomearam: "]),
])
def test_a_total_that_its_rows_do_not_add_up_to_is_said_with_both(
        store: Store, lang: str, expected: list[str]) -> None:
    """Mail.ru: total-failure-session-count 1, two failure rows of 1: the sentence and the
    problems table must not contradict each other, and one session is singular."""
    real = Path(__file__).parents[1] / "fixtures" / "real"
    ingest_paths(store, [real / "mailru-parsedmarc-two-fetch-errors.json"])
    day = dt.date(2024, 2, 22)
    found = summarize(reads.stats(store, "example.com", day, day),
                      reads.failures(store, "example.com", day, day), lang)
    assert found.failed == 1 and sum(p.sessions for p in found.problems) == 2
    assert found.sentences[0] == expected[0]
    assert found.sentences[2].startswith(expected[1])


def test_one_failed_session_and_no_details_are_said_plainly(store: Store,
                                                             tmp_path: Path) -> None:
    day = dt.date(2026, 3, 10)
    one = Day("Google LLC", day, 9, [Failure("certificate-expired", 1, f"mx2.{DOMAIN}")])
    ingest_paths(store, write(tmp_path / "one", DOMAIN, [one]))
    found = summarize(reads.stats(store, DOMAIN, day, day), reads.failures(store, DOMAIN, day, day))
    assert found.sentences[2] == ("1 session failed, at mx2.example.com: The certificate on "
                                  "your mail server has expired.")
    bare = report(DOMAIN, Day("Microsoft Corporation", day + dt.timedelta(days=1), 5))
    bare["policies"][0]["summary"]["total-failure-session-count"] = 3  # type: ignore[index]
    (tmp_path / "bare.json").write_text(json.dumps(bare))
    ingest_paths(store, [tmp_path / "bare.json"])
    later = day + dt.timedelta(days=1)
    found = summarize(reads.stats(store, DOMAIN, later, later),
                      reads.failures(store, DOMAIN, later, later))
    assert found.problems == []
    assert found.sentences[2] == ("3 sessions failed; the reports gave no failure details "
                                  "(where or why).")
