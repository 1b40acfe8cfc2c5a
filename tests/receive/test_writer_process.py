"""The writer process: shielded from SIGTERM/SIGINT, and when it dies, every input it had not
answered, and every new one until it is restarted, gets StoreUnavailable: HTTP 503 (see
test_serve_restart.py), SMTP 451, the IMAP message left in the mailbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import os
import signal
import smtplib
import time
from concurrent.futures import Future, wait
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.support import reads
from tests.support.settings import OFFLINE
from tests.support.webserver import free_port
from tlsscope.children import stop_at_once
from tlsscope.errors import StoreUnavailable
from tlsscope.intake import WriterProcess
from tlsscope.parse.results import Outcome
from tlsscope.receive.files import RawInput
from tlsscope.receive.imap import ImapUrl, MailboxQueue
from tlsscope.receive.smtp import ReportHandler
from tlsscope.store import Saved, Store

pytestmark = pytest.mark.server
REPORT = json.loads((Path(__file__).parents[1] / "fixtures" / "quirks" /
                     "pretty-sorted.json").read_bytes())


def _raw(report_id: str) -> RawInput:
    body = gzip.compress(json.dumps({**REPORT, "report-id": report_id}).encode())
    return RawInput(f"test:{report_id}", body, None, dt.datetime.now(dt.UTC), None,
                    "application/tlsrpt+gzip", channel="https", peer="127.0.0.1")


def _ready(writer: WriterProcess) -> None:
    deadline = time.monotonic() + 60
    while writer.trouble() is not None:
        assert time.monotonic() < deadline, writer.trouble()
        time.sleep(0.02)


def _stored(url: str) -> list[str]:
    with Store.open(url) as store:
        return [r.report_id for r in reads.reports(store, limit=100_000)]


def test_a_dead_writers_inputs_are_answered_retry_until_it_is_restarted(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'writer.db'}"
    writer = WriterProcess(url, OFFLINE, refresh=False)
    try:
        _ready(writer)
        assert writer.submit(_raw("first")).result(30).outcome is Outcome.ACCEPTED
        first = writer.process
        in_flight: list[Future[Saved]] = [writer.submit(_raw(f"burst-{i}"))
                                          for i in range(300)]
        os.kill(first.pid, signal.SIGKILL)  # type: ignore[arg-type]
        done, waiting = wait(in_flight, timeout=30)
        assert not waiting  # none left hanging
        refused = [f for f in done if f.exception() is not None]
        assert all(isinstance(f.exception(), StoreUnavailable) for f in refused)
        after = writer.submit(_raw("while-down"))
        with pytest.raises(StoreUnavailable, match="restarted"):
            after.result(5)
        assert writer.trouble() is not None
        writer.restart()
        assert writer.process is not first
        _ready(writer)
        assert writer.submit(_raw("after")).result(30).outcome is Outcome.ACCEPTED
    finally:
        writer.close(10)
    stored = _stored(url)
    answered = {f"burst-{i}" for i, f in enumerate(in_flight) if f.exception() is None}
    assert answered <= set(stored) and len(stored) == len(set(stored))
    assert {"first", "after"} <= set(stored) and "while-down" not in stored


def test_signals_to_the_writer_are_ignored_and_close_stores_what_was_handed_over(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'writer.db'}"
    writer = WriterProcess(url, OFFLINE, refresh=False)
    futures: list[Future[Saved]] = []
    try:
        pid = writer.process.pid
        assert pid is not None
        os.kill(pid, signal.SIGTERM)  # even before it is ready: blocked, then ignored
        os.kill(pid, signal.SIGINT)
        _ready(writer)
        os.kill(pid, signal.SIGTERM)
        futures = [writer.submit(_raw(f"closing-{i}")) for i in range(50)]
    finally:
        writer.close(30)
    assert writer.process.exitcode == 0
    assert [f.result(0).outcome for f in futures] == [Outcome.ACCEPTED] * 50
    with pytest.raises(StoreUnavailable, match="stopping"):
        writer.submit(_raw("too-late")).result(1)
    assert len(_stored(url)) == 50


class _Mailbox:
    """An IMAP mailbox as MailboxQueue.drain sees it: one message, moved only when told."""

    def __init__(self, data: bytes) -> None:
        self.data, self.client = data, self
        self.moved: list[tuple[str, str]] = []

    def uids(self) -> list[str]:
        return ["7"]

    def uid(self, command: str, uid: str, what: str) -> tuple[str, list[object]]:
        return "OK", [(b"7 (BODY[] {%d}" % len(self.data), self.data), b")"]

    def move(self, uid: str, folder: str) -> None:
        self.moved.append((uid, folder))


def test_while_the_writer_is_down_smtp_says_451_and_imap_leaves_the_mail(
        tmp_path: Path) -> None:
    writer = WriterProcess(f"sqlite:///{tmp_path / 'writer.db'}", OFFLINE, refresh=False)
    message = (Path(__file__).parents[1] / "fixtures" / "real" /
               "microsoft-tlsrpt-digest-success.eml").read_bytes().replace(b"\n", b"\r\n")

    async def deliver(raw: RawInput) -> Saved:
        return await asyncio.wrap_future(writer.submit(raw))

    port = free_port()
    smtp = Controller(ReportHandler(deliver, ["tls@example.com"]), hostname="127.0.0.1",
                      port=port)
    smtp.start()
    try:
        _ready(writer)
        stop_at_once(writer.process)
        deadline = time.monotonic() + 10
        while writer.trouble() is None:  # its results pipe is read to the end
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("x@example.net", ["tls@example.com"], message)
        assert refused.value.smtp_code == 451
        box = _Mailbox(message)
        queue = MailboxQueue(ImapUrl.parse("imaps://tls@imap.example.com/INBOX"), "secret",
                             lambda raw: writer.submit(raw).result())
        with pytest.raises(StoreUnavailable):
            queue.drain(box)
        assert box.moved == []  # left in the mailbox, read again once the writer is back
        writer.restart()
        _ready(writer)
        assert queue.drain(box) == 1 and box.moved == [("7", "Archive")]
    finally:
        smtp.stop()
        writer.close(10)
