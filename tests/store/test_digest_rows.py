"""The digest's rows on SQLite and PostgreSQL: subscribers, the findings opened and resolved
in a period, the marks that make a digest go once (and their release), opting in again; and
the schedule, called twice, sending each digest once to a real SMTP server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.support.digests import ADMIN, ANA, DIA, NOW, OPS, WEEK, days, stored, story
from tests.support.mailsink import mail_sink
from tests.support.stories import DOMAIN
from tlsscope.alert import digest
from tlsscope.settings import Settings
from tlsscope.store import Store, digest_rows


def _at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 2, day, hour, tzinfo=dt.UTC)


def test_subscribers_and_the_findings_of_a_period(store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    chosen = {s.email: s.period for s in store.read(digest_rows.subscribers)}
    assert chosen[ANA] == "week" and chosen[DIA] == "day"
    week = store.read(digest_rows.finding_events, [DOMAIN], _at(9), _at(16))
    assert [(e.event, e.at, e.severity) for e in week] == [("opened", _at(12, 6), "critical")]
    assert week[0].domain == DOMAIN and week[0].finding.status == "open"
    assert store.read(digest_rows.finding_events, [DOMAIN], _at(2), _at(9)) == []
    assert store.read(digest_rows.finding_events, [], _at(1), _at(28)) == []
    stored(store, tmp_path / "fixed", days(dt.date(2026, 2, 16), 7, False), _at(19, 6))
    later = store.read(digest_rows.finding_events, [DOMAIN], _at(16), _at(23))
    assert [(e.event, e.at) for e in later] == [("resolved", _at(19, 6))]


def test_a_backlog_of_old_reports_is_not_this_week_s_news(store: Store,
                                                           tmp_path: Path) -> None:
    """Last month's failures ingested this week: their finding is stored now, but its
    first failing day is weeks before the period: not "opened" in it."""
    stored(store, tmp_path / "backlog", days(dt.date(2026, 1, 5), 7, True), _at(10, 6))
    assert store.read(digest_rows.finding_events, [DOMAIN], _at(9), _at(16)) == []
    # The same failures, reported a day late (their first day just before the period): news.
    stored(store, tmp_path / "late", days(dt.date(2026, 2, 8), 3, True), _at(11, 6))
    (late,) = store.read(digest_rows.finding_events, [DOMAIN], _at(9), _at(16))
    assert late.event == "opened"


def test_a_mark_is_taken_once_and_given_back(store: Store) -> None:
    first = WEEK[0]
    assert store.write(digest_rows.mark, "org:1|a@b.example", "week", first, NOW)
    assert not store.write(digest_rows.mark, "org:1|a@b.example", "week", first, NOW)
    assert store.read(digest_rows.sent_marks, "week", first) == {"org:1|a@b.example"}
    assert store.read(digest_rows.sent_marks, "day", first) == set()
    store.write(digest_rows.release, "org:1|a@b.example", "week", first)
    assert store.read(digest_rows.sent_marks, "week", first) == set()
    store.write(digest_rows.opt_out, "A@B.example", NOW)
    store.write(digest_rows.opt_in, "a@B.EXAMPLE")
    assert store.read(digest_rows.opted_out) == set()


def test_the_schedule_sends_each_digest_once_on_either_database(store: Store,
                                                                tmp_path: Path) -> None:
    story(store, tmp_path)
    digest._retry_at.clear()
    with mail_sink() as (sink, port):
        settings = Settings(smtp_url=f"smtp+plain://127.0.0.1:{port}", digest_hour=7)
        first = digest.scheduled(store, settings, NOW)
        assert digest.scheduled(store, settings, NOW) == []
    assert sorted(o.to for o in first if o.delivered) == sorted([ADMIN, ANA, DIA, OPS])
    assert sorted(to for (to,), _ in sink.mails) == sorted([ADMIN, ANA, DIA, OPS])
