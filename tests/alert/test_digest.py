"""The digest on a real SQLite store, without servers: its periods and schedule, who gets it,
what it says (the trend on the week before, the findings opened and resolved, what to do
first, the chart), its unsubscribe token, and report strings made safe in both parts."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.digests import ADMIN, ANA, DIA, NOW, OPS, ORG, days, stored, story
from tests.support.mailsink import parts
from tests.support.scenarios import Day, Failure
from tests.support.stories import DOMAIN
from tlsscope.alert import digest, digest_unsubscribe
from tlsscope.app import accounts, findings
from tlsscope.app.scope import OPERATOR
from tlsscope.errors import Invalid, NotFound
from tlsscope.settings import Settings
from tlsscope.store import Store, digest_rows
from tlsscope.store import accounts as account_rows

SETTINGS = Settings(public_url="https://tlsscope.example.net", mail_from="digest@ops.example")
D = dt.date


def _mail(store: Store, to: str, org: str | None = ORG, period: str = "week",
          now: dt.datetime = NOW) -> tuple[EmailMessage, str, str]:
    prepared = {p.to: p for p in digest.prepare(store, SETTINGS, org, period, now=now)}
    message = prepared[to].message
    again = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(again, EmailMessage)
    text, html = parts(again)
    return again, text, html


@pytest.mark.parametrize(("name", "today", "first", "last"), [
    ("day", D(2026, 3, 1), D(2026, 2, 28), D(2026, 2, 28)),
    ("week", D(2026, 2, 16), D(2026, 2, 9), D(2026, 2, 15)),  # a Monday: the week before
    ("week", D(2026, 2, 15), D(2026, 2, 2), D(2026, 2, 8)),  # a Sunday: its week is not over
    ("month", D(2026, 3, 1), D(2026, 2, 1), D(2026, 2, 28)),
    ("month", D(2026, 1, 20), D(2025, 12, 1), D(2025, 12, 31)),
])
def test_the_last_complete_period(name: str, today: dt.date, first: dt.date,
                                  last: dt.date) -> None:
    period = digest.period_of(name, today)
    assert (period.first, period.last) == (first, last)
    before = period.before()
    assert before.last == first - dt.timedelta(days=1) and before.name == name


def test_each_period_is_due_at_its_hour_and_day() -> None:
    settings = Settings(digest_hour=7, digest_weekday=2)  # Wednesdays
    at = dt.datetime(2026, 2, 18, 6, 59, tzinfo=dt.UTC)  # a Wednesday, before 07:00
    week, moment = digest.due("week", at, settings)
    assert moment == dt.datetime(2026, 2, 11, 7, tzinfo=dt.UTC)
    assert (week.first, week.last) == (D(2026, 2, 2), D(2026, 2, 8))
    week, moment = digest.due("week", at + dt.timedelta(minutes=1), settings)
    assert moment == dt.datetime(2026, 2, 18, 7, tzinfo=dt.UTC)
    assert (week.first, week.last) == (D(2026, 2, 9), D(2026, 2, 15))
    day, moment = digest.due("day", at, settings)
    assert day.first == D(2026, 2, 16) and moment.date() == D(2026, 2, 17)
    month, moment = digest.due("month", dt.datetime(2026, 3, 1, 7, tzinfo=dt.UTC), settings)
    assert (month.first, month.last) == (D(2026, 2, 1), D(2026, 2, 28))
    with pytest.raises(Invalid):
        digest.period_of("year", D(2026, 1, 1))


def test_who_gets_which_digest(store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    acme = digest.audience(store, ORG)
    week = {(r.email, r.lang) for r in digest.recipients(store, acme, "week")}
    assert week == {(ANA, "pt"), (OPS, "en")}  # not the admin: the installation's is theirs
    assert {r.email for r in digest.recipients(store, acme, "day")} == {DIA, OPS}
    # On schedule, a rule's address gets the weekly digest only.
    assert {r.email for r in digest.recipients(store, acme, "day", scheduled=True)} == {DIA}
    everyone = digest.recipients(store, digest.INSTALLATION, "week")
    assert [(r.email, r.lang) for r in everyone] == [(ADMIN, "en")]
    store.write(digest_rows.opt_out, OPS.upper(), NOW)
    assert {r.email for r in digest.recipients(store, acme, "week")} == {ANA}
    with pytest.raises(NotFound):
        digest.audience(store, "Nobody Inc")


def test_the_digest_says_the_trend_the_findings_and_what_to_do_first(
        store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    message, text, html = _mail(store, OPS)
    assert message["Subject"] == "[tlsscope] Weekly digest: Acme, 2026-02-09 to 2026-02-15"
    assert message["From"] == "digest@ops.example" and message["To"] == OPS
    assert message["Content-Language"] == "en"
    # 8,680 of 8,722 sessions (99.5 %, rounded down) against 100.0 % the week before.
    assert "Success rate: 99.5 %, down 0.5 points on the week before (100.0 %)." in text
    assert "8,722 sessions" in text
    ((_, finding),) = [(v.id, v.finding) for v in findings.listing(store, OPERATOR, DOMAIN,
                                                                    "en")]
    assert f"Problems found:\n- [critical] {finding.title}\n" in text
    assert "Problems resolved: none." in text
    assert f"What to do first: {finding.title}: {finding.fix[0]}" in text
    chart = re.findall(r"^  (\w{3}) (2026-02-\d\d)  (█+░+)\s+99\.5 %  1,246$", text, re.M)
    assert [day for _, day, _ in chart] == [f"2026-02-{d:02d}" for d in range(9, 16)]
    assert "Open example.com in tlsscope: https://tlsscope.example.net/domains/example.com" \
        in text
    assert "Open the dashboard: https://tlsscope.example.net/" in text
    table = re.search(r'<table role="presentation" class="chart".*?</table></td><td[^>]*>'
                      r"[^<]*</td></tr></table>", html, re.S)
    assert table is not None and "<script" not in html
    rows = re.findall(r"<tr><td[^>]*>(\w{3} 2026-02-\d\d)</td>", table.group())
    assert len(rows) == 7 and rows[0] == "Mon 2026-02-09"
    assert html.count('bgcolor="#c62828"') == 7  # each day's failed sessions, in red
    assert 'href="https://tlsscope.example.net/domains/example.com"' in html
    assert 'href="https://tlsscope.example.net/"' in html


def test_a_portuguese_reader_gets_it_in_portuguese(store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    message, text, html = _mail(store, ANA)
    assert message["Subject"] == \
        "[tlsscope] Resumo semanal: Acme, de 2026-02-09 a 2026-02-15"
    assert message["Content-Language"] == "pt" and '<html lang="pt">' in html
    assert ("Taxa de sucesso: 99,5 %, menos 0,5 pontos percentuais do que na semana "
            "anterior (100,0 %).") in text
    assert "8.722 sessões" in text and "Problemas resolvidos: nenhum." in text
    assert "seg 2026-02-09" in text and "Abrir o painel" in html
    assert "O que fazer primeiro" in html and "Cancelar a inscrição" in html


def test_the_week_after_the_fix_goes_up_and_tells_the_problem_resolved(
        store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    stored(store, tmp_path / "fixed", days(D(2026, 2, 16), 7, False),
           dt.datetime(2026, 2, 19, 6, tzinfo=dt.UTC))
    later = NOW + dt.timedelta(days=7)
    _, text, _ = _mail(store, OPS, now=later)
    assert "Success rate: 100.0 %, up 0.5 points on the week before (99.5 %)." in text
    assert "Problems found: none." in text
    assert re.search(r"Problems resolved:\n- \[critical\] mx2\.example\.com: ", text)
    # The installation's digest of a day without reports says so, and the daily digest of
    # a day's data compares with the day before.
    _, text, _ = _mail(store, DIA, period="day", now=dt.datetime(2026, 2, 16, 8,
                                                                 tzinfo=dt.UTC))
    assert "Success rate: 99.5 %, the same as the day before." in text


def test_the_unsubscribe_token_names_the_address_and_cannot_be_forged(
        store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    message, text, html = _mail(store, ANA)
    link = str(message["List-Unsubscribe"])
    assert re.fullmatch(r"<https://tlsscope\.example\.net/digest/unsubscribe\?t=[\w.-]+>", link)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    signed = link[link.index("t=") + 2:-1]
    assert f"Cancelar a inscrição: {link[1:-1]}" in text and link[1:-1] in html
    assert digest_unsubscribe.reader(store, signed) == (ANA, "pt")
    payload, _, mac = signed.partition(".")
    forged = digest_unsubscribe.token(b"another key", OPS, "en")
    for bad in (forged, f"{forged.partition('.')[0]}.{mac}", signed[:-2], "", "x.y",
                payload, f"{signed}x" * 200):
        with pytest.raises(Invalid):
            digest_unsubscribe.reader(store, bad)
    assert digest_unsubscribe.unsubscribe(store, signed) == (ANA, "pt")
    assert store.read(digest_rows.opted_out) == {ANA}
    assert digest.subscription(store, accounts.user(store, ANA).id) == ""
    assert {r.email for r in digest.recipients(store, digest.audience(store, ORG),
                                               "week")} == {OPS}
    # Subscribing again takes the opt-out away.
    digest.subscribe(store, OPERATOR, accounts.user(store, ANA).id, "week")
    assert store.read(digest_rows.opted_out) == set()


def test_report_strings_are_escaped_in_html_and_made_visible_in_text(
        store: Store, tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>\u202egro.live"
    entries = [Day(f"Evil {evil}", day, 100, [Failure("certificate-expired", 5, f"mx.{evil}")])
               for day in (D(2026, 2, d) for d in range(9, 16))]
    stored(store, tmp_path / "evil", entries, dt.datetime(2026, 2, 12, tzinfo=dt.UTC))
    org = f"<i>Evil</i>\u202e {evil}"
    # accounts.assign refuses such a name now (app.scope.valid_domain); a row an older
    # version stored, or SQL, may still hold one: the digest shows it inert.
    store.write(account_rows.assign_domain, "<b>x\u202e.example",
                store.write(account_rows.organisation, org), dt.datetime.now(dt.UTC))
    for who in (None, org):
        message, text, html = _mail(store, "", org=who)
        assert "<script>" not in html and "<b>x" not in html and "<i>Evil" not in html
        assert "\u202e" not in text + html + str(message["Subject"])
        assert "\\u202e" in text and "\\u202e" in html
    _, text, html = _mail(store, "", org=None)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\u202egro.live" in html
    assert "Evil <script>alert(1)</script>\\u202egro.live" in text  # text: shown, inert
    assert "/domains/%3Cb%3Ex%E2%80%AE.example" in html
    message, _, html = _mail(store, "", org=org)
    assert "&lt;i&gt;Evil&lt;/i&gt;\\u202e" in html and "\\u202e" in str(message["Subject"])


def test_a_preview_writes_each_digest_as_eml_html_and_text(store: Store,
                                                          tmp_path: Path) -> None:
    story(store, tmp_path)
    prepared = digest.prepare(store, SETTINGS, ORG, "week", now=NOW)
    written = digest.preview(prepared, tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(
        f"{who}{suffix}" for who in (ANA, OPS) for suffix in (".eml", ".html", ".txt"))
    eml = email.message_from_bytes((tmp_path / "out" / f"{ANA}.eml").read_bytes(),
                                   policy=email.policy.default)
    assert eml["To"] == ANA and "Resumo semanal" in str(eml["Subject"])
    assert (tmp_path / "out" / f"{OPS}.txt").read_text().startswith("Weekly digest: Acme\n")
    assert (tmp_path / "out" / f"{OPS}.html").read_text().startswith("<!doctype html>")
    # Nobody to send to: one digest, named after the organisation, in --lang.
    accounts.assign(store, "quiet.example", "Quiet/Org")
    (alone,) = digest.prepare(store, SETTINGS, "Quiet/Org", "month", lang="pt", now=NOW)
    assert alone.to == "" and alone.message["To"] is None
    assert alone.message["List-Unsubscribe"] is None
    assert [p.name for p in digest.preview([alone], tmp_path / "out")] == [
        "Quiet_Org.eml", "Quiet_Org.txt", "Quiet_Org.html"]
    assert (tmp_path / "out" / "Quiet_Org.txt").read_text().startswith(
        "Resumo mensal: Quiet/Org\nde 2026-01-01 a 2026-01-31\n\n== quiet.example ==\n")
