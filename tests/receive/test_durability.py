"""kill -9 `tlsscope serve` while HTTPS, SMTP and IMAP traffic flows, then restart it.

Every report that was acknowledged (2xx, 250, moved to Archive) must be stored exactly once;
every one that was not is delivered again (as a sender retries, or as the mail stays in the
mailbox) and then stored once. Totals must agree with the reports stored.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support import reads
from tests.support.dovecot import PASSWORD, Dovecot, skip_unless_available
from tests.support.webserver import free_port, wait_healthy
from tlsscope.store import Store

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
import corpus

pytestmark = pytest.mark.server


def _doc(kind: str, i: int) -> dict[str, object]:
    doc = corpus.report(1, seed=i, day=1 + i % 28, domain="durable.example",
                        org=f"{kind}-sender")
    del doc["policies"][1]
    doc["report-id"] = f"{kind}-{i}"
    return doc


class Server:
    def __init__(self, folder: Path, dovecot: Dovecot) -> None:
        self.http, self.smtp = free_port(), free_port()
        self.command = [sys.executable, "-m", "tlsscope", "serve",
                        "--db", f"sqlite:///{folder / 'durable.db'}",
                        "--listen", f"127.0.0.1:{self.http}", "--smtp", f"127.0.0.1:{self.smtp}",
                        "--rua-address", "tls@example.com", "--imap", dovecot.url()]
        self.env = {**os.environ, "TLSSCOPE_IMAP_PASSWORD": PASSWORD,
                    "TLSSCOPE_DKIM_VERIFY": "never",
             "TLSSCOPE_CHECK_EVERY_HOURS": "0", "TLSSCOPE_CHECK_ON_FAILURE": "false",
                    "TLSSCOPE_IMAP_WAIT": "0.2", "TLSSCOPE_HTTP_RATE_PER_MINUTE": "0"}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(f"http://127.0.0.1:{self.http}", self.process)

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)  # the server and its writer process
        self.process.wait()

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) == 0


class Traffic:
    """Senders that keep track of what was acknowledged."""

    def __init__(self, server: Server, dovecot: Dovecot) -> None:
        self.server, self.dovecot = server, dovecot
        self.acked: set[str] = set()
        self.unacked: list[tuple[str, int]] = []
        self.appended: set[str] = set()
        self.stop = threading.Event()

    def http(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            if not self.post(i):
                self.unacked.append(("http", i))

    def post(self, i: int) -> bool:
        body = gzip.compress(corpus.compact(_doc("http", i)))
        try:
            answer = httpx.post(f"http://127.0.0.1:{self.server.http}/v1/tlsrpt", content=body,
                                headers={"content-type": "application/tlsrpt+gzip"}, timeout=5)
        except httpx.TransportError:
            return False
        if answer.status_code in (200, 201):
            self.acked.add(f"http-{i}")
            return True
        return False

    def smtp(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            if not self.send(i):
                self.unacked.append(("smtp", i))

    def send(self, i: int) -> bool:
        message = corpus.mail(_doc("smtp", i)).replace(b"\n", b"\r\n")
        try:
            with smtplib.SMTP("127.0.0.1", self.server.smtp, timeout=5) as client:
                client.sendmail("tlsrpt@sender.example", ["tls@example.com"], message)
        except (OSError, smtplib.SMTPException):
            return False
        self.acked.add(f"smtp-{i}")
        return True

    def imap(self) -> None:
        i = 0
        while not self.stop.is_set() and i < 150:
            i += 1
            self.dovecot.append(corpus.mail(_doc("imap", i)).replace(b"\n", b"\r\n"))
            self.appended.add(f"imap-{i}")
            time.sleep(0.01)


@pytest.mark.slow
def test_kill_9_under_traffic_loses_and_doubles_nothing(tmp_path: Path) -> None:
    skip_unless_available()
    dovecot = Dovecot()
    server = Server(tmp_path, dovecot)
    try:
        server.start()
        traffic = Traffic(server, dovecot)
        senders = [threading.Thread(target=f) for f in (traffic.http, traffic.smtp,
                                                           traffic.imap)]
        for sender in senders:
            sender.start()
        time.sleep(2.0)
        archived_before_kill = dovecot.count("Archive")
        server.kill()
        time.sleep(0.3)
        traffic.stop.set()
        for sender in senders:
            sender.join(timeout=60)
        assert len(traffic.acked) > 20 and archived_before_kill > 0
        server.start()
        for kind, i in traffic.unacked:  # the senders retry what was not acknowledged
            assert (traffic.post if kind == "http" else traffic.send)(i)
        deadline = time.monotonic() + 60
        while dovecot.count("INBOX") > 0:
            assert time.monotonic() < deadline, "the mailbox was not drained"
            time.sleep(0.2)
        server.stop()
        with Store.open(f"sqlite:///{tmp_path / 'durable.db'}") as store:
            stored = [s.report_id for s in reads.reports(store, limit=100_000)]
            totals = reads.stats(store, "durable.example", dt.date(2025, 1, 1),
                                 dt.date(2025, 12, 31))
        assert len(stored) == len(set(stored))  # nothing twice
        sent = traffic.acked | {f"{k}-{i}" for k, i in traffic.unacked} | traffic.appended
        assert set(stored) == sent  # nothing lost: acknowledged, retried, or left in the mailbox
        assert totals.reports == len(stored)  # the roll-ups agree
        assert dovecot.count("Archive") == len(traffic.appended)
        print(json.dumps({"acknowledged": len(traffic.acked), "retried": len(traffic.unacked),
                          "stored": len(stored), "archived_before_kill": archived_before_kill}))
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()
        dovecot.destroy()

