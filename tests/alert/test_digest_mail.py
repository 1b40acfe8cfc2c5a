"""The digest over real servers on loopback: an aiosmtpd sink receives it through the
smtp_url relay; the one-click unsubscribe is POSTed to a real uvicorn (RFC 8058); serve's
schedule sends each due digest once, a digest the relay could not take is tried again later,
and one it refused for good (550) is not."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.support.digests import ADMIN, ANA, DIA, NOW, OPS, ORG, WEEK, story
from tests.support.mailsink import Sink, mail_sink, parts
from tests.support.webserver import Running, free_port
from tlsscope.alert import digest
from tlsscope.errors import Invalid
from tlsscope.settings import Settings
from tlsscope.store import Store, digest_rows

pytestmark = pytest.mark.server

PUBLIC = "https://tlsscope.example.net"


def _settings(port: int, **more: object) -> Settings:
    return Settings(smtp_url=f"smtp+plain://127.0.0.1:{port}", mail_from="digest@ops.example",
                    public_url=PUBLIC, http_rate_per_minute=0, digest_hour=7,
                    digest_weekday=0, **more)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_retries_left() -> Iterator[None]:
    digest._retry_at.clear()
    yield
    digest._retry_at.clear()


def _by_recipient(sink: Sink) -> dict[str, EmailMessage]:
    out = {}
    for to, message in sink.mails:
        (address,) = to
        assert address not in out, f"{address} got two digests"
        out[address] = message
    return out


def _link(message: EmailMessage) -> str:
    found = re.fullmatch(r"<(https://\S+)>", str(message["List-Unsubscribe"]))
    assert found is not None
    return found.group(1)


def test_the_digest_reaches_a_real_smtp_server_in_each_readers_language(
        store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    with mail_sink() as (sink, port):
        settings = _settings(port)
        outcomes = digest.send(store, settings, digest.prepare(store, settings, ORG, "week",
                                                               now=NOW), NOW)
    assert {(o.to, o.delivered) for o in outcomes} == {(ANA, True), (OPS, True)}
    mails = _by_recipient(sink)
    assert set(mails) == {ANA, OPS}
    for address, message in mails.items():
        assert message["To"] == address and message["From"] == "digest@ops.example"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert _link(message).startswith(f"{PUBLIC}/digest/unsubscribe?t=")
        assert message["Auto-Submitted"] == "auto-generated"
    pt, en = mails[ANA], mails[OPS]
    assert pt["Subject"] == "[tlsscope] Resumo semanal: Acme, de 2026-02-09 a 2026-02-15"
    assert en["Subject"] == "[tlsscope] Weekly digest: Acme, 2026-02-09 to 2026-02-15"
    text, html = parts(pt)
    assert pt["Content-Language"] == "pt" and "menos 0,5 pontos percentuais" in text
    assert f"Abrir o painel: {PUBLIC}/" in text and f'href="{PUBLIC}/domains/example.com"' in html
    assert '<table role="presentation" class="chart"' in html and "<script" not in html
    assert _link(pt) in text and _link(pt) in html
    text, html = parts(en)
    assert "down 0.5 points on the week before (100.0 %)" in text
    assert "Sessions per day" in text and "Sessions per day" in html
    # What was sent is marked: the schedule does not send it again.
    acme = digest.audience(store, ORG).key
    marks = store.read(digest_rows.sent_marks, "week", WEEK[0])
    assert marks == {f"{acme}|{ANA}", f"{acme}|{OPS}"}


def test_one_click_unsubscribe_over_http_and_the_next_digest_skips_the_address(
        store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    with mail_sink() as (sink, port):
        settings = _settings(port)
        digest.send(store, settings, digest.prepare(store, settings, ORG, "week", now=NOW))
        link = _link(_by_recipient(sink)[ANA])
        running = Running(store, settings, dashboard=True)
        try:
            local = link.replace(PUBLIC, running.url)
            with httpx.Client(timeout=10) as client:
                asked = client.get(local)  # what a scanner's prefetch does: nothing
                assert asked.status_code == 200 and store.read(digest_rows.opted_out) == set()
                assert "Deixar de enviar o resumo do tlsscope para ana@acme.example?" \
                    in asked.text
                assert re.search(r'<form method="post" action="/digest/unsubscribe\?t=[\w.-]+">',
                                 asked.text)
                assert "<script" not in asked.text and "style=" not in asked.text
                forged = local[:-3] + ("AAA" if not local.endswith("AAA") else "BBB")
                for bad in (forged, f"{running.url}/digest/unsubscribe?t=x.y",
                            f"{running.url}/digest/unsubscribe"):
                    for method in ("GET", "POST"):
                        refused = client.request(method, bad,
                                                 data={"List-Unsubscribe": "One-Click"})
                        assert refused.status_code == 400, (method, bad)
                        assert "This unsubscribe link is not valid" in refused.text
                assert store.read(digest_rows.opted_out) == set()
                # RFC 8058: a POST of List-Unsubscribe=One-Click, no cookie, no CSRF token.
                done = client.post(local, content=b"List-Unsubscribe=One-Click", headers={
                    "Content-Type": "application/x-www-form-urlencoded"})
                assert done.status_code == 200, done.text
                assert "ana@acme.example não volta a receber resumos" in done.text
                assert not client.cookies
            assert store.read(digest_rows.opted_out) == {ANA}
        finally:
            running.stop()
        sink.mails.clear()
        digest.send(store, settings, digest.prepare(store, settings, ORG, "week", now=NOW))
    assert set(_by_recipient(sink)) == {OPS}


def test_the_schedule_sends_each_due_digest_once(store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    with mail_sink() as (sink, port):
        settings = _settings(port)
        # At 06:59 the week before's digest is a week late (not sent), and only the daily
        # digest of Saturday is still due.
        early = digest.scheduled(store, settings, NOW - dt.timedelta(hours=1, minutes=1))
        assert [o.to for o in early] == [DIA]
        assert "2026-02-14" in str(sink.mails[0][1]["Subject"])
        sink.mails.clear()
        first = digest.scheduled(store, settings, NOW)
        again = digest.scheduled(store, settings, NOW + dt.timedelta(seconds=5))
        mails = _by_recipient(sink)
        assert {o.to for o in first} == {ANA, OPS, ADMIN, DIA} and again == []
        assert set(mails) == {ANA, OPS, ADMIN, DIA}
        assert "Daily digest: Acme, 2026-02-15 to 2026-02-15" in str(mails[DIA]["Subject"])
        assert "Weekly digest: every domain" in str(mails[ADMIN]["Subject"])
        # The next day: the next daily digest, and no weekly one again.
        sink.mails.clear()
        later = digest.scheduled(store, settings, NOW + dt.timedelta(days=1))
        assert [o.to for o in later] == [DIA]
        assert "2026-02-16" in str(sink.mails[0][1]["Subject"])


def test_a_digest_the_relay_refused_is_tried_again_later(store: Store,
                                                         tmp_path: Path) -> None:
    story(store, tmp_path)
    nowhere = _settings(free_port())  # nothing listens there
    failed = digest.scheduled(store, nowhere, NOW)
    assert failed and not any(o.delivered for o in failed)
    assert store.read(digest_rows.sent_marks, "week", WEEK[0]) == set()  # given back
    with mail_sink() as (sink, port):
        settings = _settings(port)
        assert digest.scheduled(store, settings, NOW + dt.timedelta(minutes=1)) == []
        retried = digest.scheduled(store, settings, NOW + dt.timedelta(minutes=11))
    assert {o.to for o in retried} == {o.to for o in failed}
    assert all(o.delivered for o in retried) and len(sink.mails) == len(failed)


def test_without_a_relay_nothing_is_scheduled_and_sending_refuses(store: Store,
                                                                  tmp_path: Path) -> None:
    story(store, tmp_path)
    unset = Settings(public_url=PUBLIC)
    assert digest.scheduled(store, unset, NOW) == []
    with pytest.raises(Invalid):
        digest.send(store, unset, digest.prepare(store, unset, ORG, "week", now=NOW))


class _Refusing:
    """A relay that refuses every recipient for good (550)."""

    async def handle_RCPT(self, server: object, session: object, envelope: object,
                          address: str, rcpt_options: list[str]) -> str:
        return "550 5.1.1 no such mailbox"


def test_a_digest_the_relay_refused_for_good_is_not_tried_again(store: Store,
                                                                tmp_path: Path) -> None:
    story(store, tmp_path)
    port = free_port()
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = _settings(port)
        refused = digest.scheduled(store, settings, NOW)
        assert refused and not any(o.delivered for o in refused)
        assert all("refused" in o.error for o in refused)
        assert digest.scheduled(store, settings, NOW + dt.timedelta(hours=1)) == []
    finally:
        controller.stop()
    acme = digest.audience(store, ORG).key
    assert store.read(digest_rows.sent_marks, "week", WEEK[0]) >= {f"{acme}|{ANA}"}
