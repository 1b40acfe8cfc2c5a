"""The SMTP and LMTP receivers, served by aiosmtpd, with smtplib as the sending MTA."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from sqlalchemy import select

from tests.support import reads
from tests.support.mails import RUA, crlf, mail
from tests.support.settings import OFFLINE
from tests.support.webserver import free_port
from tlsscope.intake import Intake
from tlsscope.receive.files import RawInput
from tlsscope.receive.smtp import ReportHandler
from tlsscope.settings import Settings
from tlsscope.store import Saved, Store
from tlsscope.store import tables as t

pytestmark = pytest.mark.server

FIX = Path(__file__).parents[1] / "fixtures"


class Receiver:
    def __init__(self, store: Store, tls: ssl.SSLContext | None = None,
                 lmtp: bool = False, limit: int = 1024 * 1024,
                 settings: Settings = OFFLINE) -> None:
        self.store = store
        self.intake = Intake(store, settings)

        async def deliver(raw: RawInput) -> Saved:
            return await asyncio.wrap_future(self.intake.submit(raw))

        handler = ReportHandler(deliver, [RUA], channel="lmtp" if lmtp else "smtp")
        self.port = free_port()
        kwargs: dict[str, Any] = {"data_size_limit": limit}
        if tls is not None:
            kwargs["tls_context"] = tls
        if lmtp:
            self.controller: Controller = _LMTPController(handler, hostname="127.0.0.1",
                                                          port=self.port)
        else:
            self.controller = Controller(handler, hostname="127.0.0.1", port=self.port,
                                         **kwargs)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
        self.intake.close()


class _LMTPController(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'smtp.db'}")
    yield opened
    opened.close()


@pytest.fixture
def receiver(store: Store) -> Iterator[Receiver]:
    running = Receiver(store)
    yield running
    running.stop()


def test_report_mail_is_stored_before_250(receiver: Receiver) -> None:
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
        refused = client.sendmail("noreply@google.com", [RUA],
                                  mail("google-tlsrpt-digest-success-1.eml"))
    assert refused == {}
    (summary,) = reads.reports(receiver.store)
    assert summary.organization_name == "Google Inc."
    stored = reads.report(receiver.store, summary.key)
    assert stored is not None and stored.source.source.startswith("smtp:127.0.0.1 from ")


def test_other_recipients_get_550(receiver: Receiver) -> None:
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
        client.ehlo()
        client.mail("x@example.net")
        code, _ = client.rcpt("postmaster@example.com")
        assert code == 550
        assert client.rcpt(RUA.upper())[0] == 250


def test_a_mail_without_a_report_still_gets_250_and_is_kept(receiver: Receiver) -> None:
    body = crlf((FIX / "quirks" / "mail-not-report-cron.eml").read_bytes())
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
        assert client.sendmail("root@host.example", [RUA], body) == {}
    assert reads.reports(receiver.store) == []
    assert len(receiver.store.known([])) == 0
    bad = crlf((FIX / "quirks" / "mail-with-bad-report.eml").read_bytes())
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
        assert client.sendmail("x@example.net", [RUA], bad) == {}
    (held,) = reads.quarantine(receiver.store)
    assert reads.raw(receiver.store, held.sha256) is not None


def test_size_cap(store: Store) -> None:
    running = Receiver(store, limit=4096)
    try:
        with smtplib.SMTP("127.0.0.1", running.port, timeout=30) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("x@example.net", [RUA],
                                mail("microsoft-tlsrpt-digest-success.eml"))
            assert refused.value.smtp_code == 552
    finally:
        running.stop()


def test_starttls(store: Store) -> None:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "mx.example.com")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(context)
    running = Receiver(store, tls=context)
    try:
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
        with smtplib.SMTP("127.0.0.1", running.port, timeout=30) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            client.starttls(context=client_context)
            client.ehlo()
            assert client.sendmail("noreply@microsoft.com", [RUA],
                                   mail("microsoft-tlsrpt-digest-success.eml")) == {}
        assert len(reads.reports(store)) == 1
    finally:
        running.stop()


def test_lmtp(store: Store) -> None:
    running = Receiver(store, lmtp=True)
    try:
        with smtplib.LMTP("127.0.0.1", running.port, timeout=30) as client:
            assert client.sendmail("noreply@google.com", [RUA],
                                   mail("google-parsedmarc-relayed-with-banner.eml")) == {}
        assert len(reads.reports(store)) == 1
        assert provenance(store) == [("lmtp", "127.0.0.1", False, True)]  # not DKIM-checked
    finally:
        running.stop()


def provenance(store: Store) -> list[tuple[str, str, bool, bool]]:
    r = t.reports
    with store.engine.connect() as connection:
        return [(row[0], row[1], bool(row[2]), bool(row[3])) for row in connection.execute(
            select(r.c.channel, r.c.peer, r.c.authenticated, r.c.reporter_new).order_by(r.c.id))]


def test_a_domain_not_accepted_gets_550_with_the_reason_and_nothing_is_stored(
        store: Store) -> None:
    running = Receiver(store, settings=Settings(dkim_verify="never",
                                                accept_domains=["example.org"]))
    try:
        with smtplib.SMTP("127.0.0.1", running.port, timeout=30) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("noreply@google.com", [RUA],
                                mail("google-tlsrpt-digest-success-1.eml"))
        assert refused.value.smtp_code == 550
        assert b"does not take reports about 'example.com'" in refused.value.smtp_error
        assert reads.reports(store) == [] and reads.quarantine(store) == []
    finally:
        running.stop()
