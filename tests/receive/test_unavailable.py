"""When the store goes away, receivers make the sender retry: HTTP 503, SMTP 451."""

from __future__ import annotations

import asyncio
import gzip
import smtplib
from pathlib import Path

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller

from tests.support.postgres import PostgresServer
from tests.support.settings import OFFLINE
from tests.support.webserver import Running, free_port
from tlsscope.intake import Intake
from tlsscope.receive.files import RawInput
from tlsscope.receive.smtp import ReportHandler
from tlsscope.settings import Settings
from tlsscope.store import Saved, Store

pytestmark = pytest.mark.server

FIX = Path(__file__).parents[1] / "fixtures"


def _drop(postgres: PostgresServer, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres",
                         autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_http_answers_503_and_smtp_451_when_the_database_is_gone(
        postgres: PostgresServer | None) -> None:
    if postgres is None:
        pytest.skip("TLSSCOPE_TEST_POSTGRES=skip")
    url = postgres.create_database()
    store = Store.open(url)
    web = Running(store, Settings(http_rate_per_minute=0, dkim_verify="never"))
    intake = Intake(store, OFFLINE)

    async def deliver(raw: RawInput) -> Saved:
        return await asyncio.wrap_future(intake.submit(raw))

    port = free_port()
    smtp = Controller(ReportHandler(deliver, ["tls@example.com"]), hostname="127.0.0.1",
                      port=port)
    smtp.start()
    try:
        body = gzip.compress((FIX / "quirks" / "pretty-sorted.json").read_bytes())
        headers = {"content-type": "application/tlsrpt+gzip"}
        assert httpx.post(f"{web.url}/v1/tlsrpt", content=body, headers=headers,
                          timeout=30).status_code == 201
        _drop(postgres, url)
        answer = httpx.post(f"{web.url}/v1/tlsrpt", content=gzip.compress(b"{}" + body[:0]),
                            headers=headers, timeout=30)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "60"
        message = (FIX / "real" / "microsoft-tlsrpt-digest-success.eml").read_bytes()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("x@example.net", ["tls@example.com"],
                                message.replace(b"\n", b"\r\n"))
        assert refused.value.smtp_code == 451
    finally:
        smtp.stop()
        intake.close()
        web.stop()
        store.close()
