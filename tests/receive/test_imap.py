"""The mailbox as a queue, against a real Dovecot the tests start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import reads
from tests.support.dovecot import PASSWORD, Dovecot, skip_unless_available
from tests.support.settings import OFFLINE
from tlsscope.intake import Intake
from tlsscope.receive.files import RawInput
from tlsscope.receive.imap import ImapUrl, MailboxQueue
from tlsscope.store import Saved, Store

pytestmark = pytest.mark.server

FIX = Path(__file__).parents[1] / "fixtures"
GOOD = [(FIX / "real" / n).read_bytes().replace(b"\n", b"\r\n")
        for n in ("google-tlsrpt-digest-success-1.eml", "microsoft-tlsrpt-digest-success.eml")]
CRON = (FIX / "quirks" / "mail-not-report-cron.eml").read_bytes().replace(b"\n", b"\r\n")


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    skip_unless_available()
    server = Dovecot()
    yield server
    server.destroy()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'imap.db'}") as opened:
        yield opened


def queue_for(dovecot: Dovecot, deliver: object) -> MailboxQueue:
    return MailboxQueue(ImapUrl.parse(dovecot.url()), PASSWORD, deliver, wait=0.5)  # type: ignore[arg-type]


def drain_once(mailbox: MailboxQueue) -> int:
    box = mailbox._connect()
    try:
        return mailbox.drain(box)
    finally:
        box.logout()


def test_reports_are_archived_after_commit_and_the_rest_goes_to_invalid(
        dovecot: Dovecot, store: Store) -> None:
    dovecot.append(*GOOD, CRON)
    intake = Intake(store, OFFLINE)
    mailbox = queue_for(dovecot, lambda raw: intake.submit(raw).result())
    try:
        assert drain_once(mailbox) == 3
    finally:
        intake.close()
    assert (dovecot.count("INBOX"), dovecot.count("Archive"), dovecot.count("Invalid")) == (0, 2, 1)
    assert len(reads.reports(store)) == 2


def test_a_crash_between_commit_and_move_duplicates_nothing(
        dovecot: Dovecot, store: Store) -> None:
    dovecot.append(*GOOD)
    intake = Intake(store, OFFLINE)

    def commit_then_crash(raw: RawInput) -> Saved:
        intake.submit(raw).result()  # committed ...
        raise RuntimeError("killed before the move")  # ... but the mail is not moved

    with pytest.raises(RuntimeError):
        drain_once(queue_for(dovecot, commit_then_crash))
    assert dovecot.count("INBOX") == 2 and len(reads.reports(store)) == 1
    try:
        assert drain_once(queue_for(dovecot, lambda raw: intake.submit(raw).result())) == 2
    finally:
        intake.close()
    assert (dovecot.count("INBOX"), dovecot.count("Archive")) == (0, 2)
    assert len(reads.reports(store)) == 2  # the first report once, not twice
    with store.engine.connect() as connection:
        arrivals = connection.exec_driver_sql("SELECT count(*) FROM arrivals").scalar_one()
    assert arrivals == 3  # the first mail arrived twice: recorded, not counted


def test_runs_through_a_server_restart(dovecot: Dovecot, store: Store) -> None:
    intake = Intake(store, OFFLINE)
    mailbox = queue_for(dovecot, lambda raw: intake.submit(raw).result())
    stop = threading.Event()
    runner = threading.Thread(target=mailbox.run, args=(stop,), daemon=True)
    runner.start()
    try:
        dovecot.append(GOOD[0])
        _until(lambda: dovecot.count("Archive") == 1)
        dovecot.stop()
        dovecot.start()
        dovecot.append(GOOD[1])
        _until(lambda: dovecot.count("Archive") == 2, seconds=30)
    finally:
        stop.set()
        runner.join(timeout=30)
        intake.close()
    assert len(reads.reports(store)) == 2


def test_url_and_secrets() -> None:
    url = ImapUrl.parse("imaps://reports%40example.com@mail.example.com/TLS")
    assert (url.user, url.port, url.mailbox) == ("reports@example.com", 993, "TLS")
    from tlsscope.errors import ConfigError

    with pytest.raises(ConfigError):
        ImapUrl.parse("imaps://user:secret@mail.example.com/INBOX")
    with pytest.raises(ConfigError):
        ImapUrl.parse("pop3://user@mail.example.com")


def _until(condition: object, seconds: float = 15) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.parametrize("scheme", ["imaps", "imap"])
def test_over_tls_and_starttls(tmp_path: Path, store: Store, scheme: str) -> None:
    import ssl

    import trustme

    skip_unless_available()
    ca = trustme.CA()
    pem = tmp_path / "dovecot.pem"
    ca.issue_cert("127.0.0.1", "imap.example.com").private_key_and_cert_chain_pem.write_to_path(
        str(pem))
    pem.chmod(0o644)
    server = Dovecot(tls_pem=pem)
    try:
        server.append(GOOD[0])
        port = server.tls_port if scheme == "imaps" else server.port
        url = ImapUrl.parse(f"{scheme}://tlsrpt%40example.com@127.0.0.1:{port}/INBOX")
        context = ssl.create_default_context()
        ca.configure_trust(context)
        intake = Intake(store, OFFLINE)
        mailbox = MailboxQueue(url, PASSWORD, lambda raw: intake.submit(raw).result(),
                               ssl_context=context)
        try:
            assert drain_once(mailbox) == 1
        finally:
            intake.close()
        assert server.count("Archive") == 1 and len(reads.reports(store)) == 1
    finally:
        server.destroy()


def test_two_nodes_drain_one_mailbox_one_at_a_time(dovecot: Dovecot, store: Store) -> None:
    """On a fleet the node holding the mailbox's lease drains it; the other stays off it,
    and takes over once the holder is gone (a stopped node gives its lease back; a dead one
    loses it after lease_seconds: tests/store/test_fleet_rows.py)."""
    import time

    from tlsscope.app.lease import Lease

    intake = Intake(store, OFFLINE)
    handled: list[tuple[str, str]] = []  # (node, source)

    def node(name: str) -> tuple[MailboxQueue, threading.Event, threading.Thread]:
        def deliver(raw: RawInput) -> Saved:
            handled.append((name, raw.source))
            return intake.submit(raw).result()

        queue = MailboxQueue(ImapUrl.parse(dovecot.url()), PASSWORD, deliver, wait=0.3,
                             turn=Lease(store, "imap:test", 3, holder=name))
        stop = threading.Event()
        thread = threading.Thread(target=queue.run, args=(stop,))
        thread.start()
        return queue, stop, thread

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 30
        while len(handled) < count:
            assert time.monotonic() < deadline, handled
            time.sleep(0.05)

    try:
        first = node("a")
        time.sleep(0.5)  # a holds the lease
        second = node("b")
        dovecot.append(GOOD[0])
        wait_for(1)
        time.sleep(1.0)
        first[1].set()
        first[2].join(10)  # a stops, giving the lease back
        dovecot.append(GOOD[1])
        wait_for(2)
        second[1].set()
        second[2].join(10)
    finally:
        intake.close()
    assert [name for name, _ in handled] == ["a", "b"]  # each mail once, by one node
    assert (dovecot.count("INBOX"), dovecot.count("Archive")) == (0, 2)
    assert len(reads.reports(store)) == 2
