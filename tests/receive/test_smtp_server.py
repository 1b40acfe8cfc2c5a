"""The SMTP receiver's guards (receive/smtp_server.py, ReportHandler's STARTTLS rule) in a
real `tlsscope serve`, and in an aiosmtpd server of the same classes with a slow writer."""

from __future__ import annotations

import asyncio
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.support.mails import RUA, mail
from tests.support.served import Served
from tests.support.webserver import free_port
from tlsscope.errors import StoreUnavailable
from tlsscope.receive.address_cap import AddressCap
from tlsscope.receive.files import RawInput
from tlsscope.receive.smtp import ReportHandler
from tlsscope.receive.smtp_server import ReportSMTP
from tlsscope.store import Saved

pytestmark = pytest.mark.server

IDLE = 1.5


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, int]]:
    """serve with SMTP: idle after 1.5 s, at most 3 sessions per address."""
    port = free_port()
    running = Served(tmp_path_factory.mktemp("smtp"), TLSSCOPE_SMTP_LISTEN=f"127.0.0.1:{port}",
                     TLSSCOPE_RUA_ADDRESSES=RUA, TLSSCOPE_SMTP_IDLE_SECONDS=str(IDLE),
                     TLSSCOPE_SMTP_MAX_SESSIONS_PER_ADDRESS="3")
    yield running, port
    running.stop()


def session(port: int, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10,
                                    source_address=(source, 0))


def first_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data


def closed_within(sock: socket.socket, seconds: float) -> float:
    """How long until the server closed `sock` (fails past `seconds`)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(1024):
            pass
    except TimeoutError:
        raise AssertionError(f"still open after {seconds} s") from None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_an_idle_session_is_closed_after_smtp_idle_seconds(served: tuple[Served, int]) -> None:
    port = served[1]
    with session(port) as sock:
        assert first_line(sock).startswith(b"220 ")
        sock.sendall(b"EHLO client.example\r\n")
        seconds = closed_within(sock, IDLE + 3)
    print(f"idle SMTP session closed after {seconds:.2f} s (smtp_idle_seconds {IDLE})")
    assert IDLE - 0.3 < seconds < IDLE + 2


def test_a_mail_arriving_slowly_is_not_idle(served: tuple[Served, int]) -> None:
    """DATA's bytes are activity: a mail sent over 3 s (2 x the idle time) is stored."""
    port = served[1]
    body = mail("google-tlsrpt-digest-success-1.eml")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        assert client.mail("noreply@google.com")[0] == 250
        assert client.rcpt(RUA)[0] == 250
        client.putcmd("data")
        assert client.getreply()[0] == 354
        pieces = [body[i:i + len(body) // 6 + 1] for i in range(0, len(body), len(body) // 6 + 1)]
        for piece in pieces:
            client.send(piece)
            time.sleep(0.5)
        client.send(b"\r\n.\r\n")
        code, reply = client.getreply()
    assert code == 250 and b"Stored" in reply, reply


def test_sessions_over_the_per_address_cap_get_421(served: tuple[Served, int]) -> None:
    serve, port = served
    held = [session(port, "127.0.0.2") for _ in range(3)]
    try:
        for sock in held:
            assert first_line(sock).startswith(b"220 ")
        with session(port, "127.0.0.2") as over:
            assert first_line(over) == b"421 4.7.0 too many connections from your address\r\n"
            assert closed_within(over, 3) < 3
        with session(port, "127.0.0.3") as other:  # another address is not held back
            assert first_line(other).startswith(b"220 ")
        held.pop().close()
        time.sleep(0.2)
        with session(port, "127.0.0.2") as again:  # one closed: room for one
            assert first_line(again).startswith(b"220 ")
    finally:
        for sock in held:
            sock.close()
    lines = [line for line in serve.lines() if line["message"] == "session refused"]
    assert lines and lines[0]["client"] == "127.0.0.2" and lines[0]["level"] == "info"
    assert not [line for line in serve.lines() if line["level"] == "error"]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, ssl.SSLContext, int]]:
    """`tlsscope serve --tls-cert` with smtp_require_starttls (its HTTP is HTTPS then, with a
    header timeout of 2 s): the SMTP port, a client context, the HTTPS port."""
    folder = tmp_path_factory.mktemp("starttls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "mx.example.com")
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    port, https = free_port(), free_port()
    with (folder / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tlsscope", "serve", "--db",
             f"sqlite:///{folder / 'serve.db'}", "--listen", f"127.0.0.1:{https}",
             "--smtp", f"127.0.0.1:{port}", "--rua-address", RUA,
             "--tls-cert", str(folder / "cert.pem"), "--tls-key", str(folder / "key.pem")],
            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
            env={**os.environ, "TLSSCOPE_DKIM_VERIFY": "never", "TLSSCOPE_CHECK_EVERY_HOURS": "0",
                 "TLSSCOPE_CHECK_ON_FAILURE": "false", "TLSSCOPE_SMTP_REQUIRE_STARTTLS": "true",
                 "TLSSCOPE_HTTP_HEADER_TIMEOUT": "2"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    if first_line(probe).startswith(b"220 "):
                        break
            except OSError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (
                (folder / "serve.log").read_text())
            time.sleep(0.05)
        context = ssl.create_default_context()
        ca.configure_trust(context)
        yield port, context, https
    finally:
        os.killpg(process.pid, 9)
        process.wait(10)


def test_mail_from_before_starttls_gets_530(tls: tuple[int, ssl.SSLContext, int]) -> None:
    port, context, _ = tls
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        code, reply = client.mail("noreply@google.com")
        assert (code, reply) == (530, b"5.7.0 Must issue a STARTTLS command first")
        client.starttls(context=context)
        client.ehlo()
        assert client.mail("noreply@google.com")[0] == 250
        assert client.rcpt(RUA)[0] == 250
        code, reply = client.data(mail("google-tlsrpt-digest-success-1.eml"))
    assert code == 250 and reply.startswith(b"2.0.0 Stored"), reply

    for _ in range(11):  # sessions that ended after STARTTLS are not counted against the cap
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.starttls(context=context)
            assert client.noop()[0] == 250


def test_require_starttls_without_a_certificate_stops_serve(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tlsscope", "serve", "--db", f"sqlite:///{tmp_path / 's.db'}",
         "--listen", f"127.0.0.1:{free_port()}", "--smtp", f"127.0.0.1:{free_port()}",
         "--rua-address", RUA], capture_output=True, text=True, timeout=60,
        env={**os.environ, "TLSSCOPE_SMTP_REQUIRE_STARTTLS": "true",
             "TLSSCOPE_CHECK_EVERY_HOURS": "0", "TLSSCOPE_CHECK_ON_FAILURE": "false"})
    assert done.returncode == 2, done.stderr
    assert "smtp_require_starttls" in done.stderr and "tls_cert" in done.stderr


def test_the_wait_for_the_writer_is_not_idle_time() -> None:
    """A writer that answers after 2 s, twice the idle timeout: the sender gets its answer."""

    async def slow(raw: RawInput) -> Saved:
        await asyncio.sleep(2.0)
        raise StoreUnavailable("slow writer")

    async def scenario() -> tuple[int, bytes]:
        handler = ReportHandler(slow, [RUA])
        server = await asyncio.get_running_loop().create_server(
            lambda: ReportSMTP(handler, cap=AddressCap(2), timeout=1.0), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await asyncio.to_thread(send, port)
        finally:
            server.close()

    def send(port: int) -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.ehlo()
            client.mail("noreply@google.com")
            client.rcpt(RUA)
            return client.data(mail("google-tlsrpt-digest-success-1.eml"))

    assert asyncio.run(scenario()) == (451, b"4.3.0 Cannot store the report right now; "
                                            b"please try again later")


def test_a_session_that_never_goes_idle_ends_after_its_lifetime() -> None:
    """NOOP every 0.3 s keeps the idle timeout away; the lifetime (2 s) still ends it with
    421 4.4.2. A mail being stored when the lifetime ends is answered first."""

    async def slow(raw: RawInput) -> Saved:
        await asyncio.sleep(1.5)
        raise StoreUnavailable("slow writer")

    async def scenario() -> tuple[float, bytes, tuple[int, bytes]]:
        handler = ReportHandler(slow, [RUA])
        server = await asyncio.get_running_loop().create_server(
            lambda: ReportSMTP(handler, lifetime=2.0, timeout=5.0), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            busy = await asyncio.to_thread(noop_until_closed, port)
            stored = await asyncio.to_thread(data_across_the_end, port)
            return (*busy, stored)
        finally:
            server.close()

    def noop_until_closed(port: int) -> tuple[float, bytes]:
        with session(port) as sock:
            assert first_line(sock).startswith(b"220 ")
            started = time.monotonic()
            while True:
                sock.sendall(b"NOOP\r\n")
                line = first_line(sock)
                if not line.startswith(b"250"):
                    return time.monotonic() - started, line
                time.sleep(0.3)

    def data_across_the_end(port: int) -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.ehlo()
            time.sleep(1.0)  # DATA then runs past the 2 s lifetime, in the writer's wait
            client.mail("noreply@google.com")
            client.rcpt(RUA)
            return client.data(mail("google-tlsrpt-digest-success-1.eml"))

    seconds, line, stored = asyncio.run(scenario())
    assert line == b"421 4.4.2 this session has lasted too long; please reconnect\r\n"
    assert 1.7 < seconds < 3.5, seconds
    assert stored[0] == 451  # the writer's answer came, not a cut connection


def test_a_tls_handshake_that_never_comes_is_closed_after_the_header_timeout(
        tls: tuple[int, ssl.SSLContext, int]) -> None:
    """20 connections that never start their TLS handshake (the loop's default would hold
    each 60 s, before the per-address cap or the header timeout could see it) are closed
    after http_header_timeout (2 s); a real client is served meanwhile."""
    _, context, https = tls
    silent = [socket.create_connection(("127.0.0.1", https), timeout=10) for _ in range(20)]
    try:
        with socket.create_connection(("127.0.0.1", https), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as client:
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert first_line(client).startswith(b"HTTP/1.1 ")  # answered
        waited = [closed_within(sock, 6) for sock in silent]
    finally:
        for sock in silent:
            sock.close()
    assert max(waited) < 4, waited
