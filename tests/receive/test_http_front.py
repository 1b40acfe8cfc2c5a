"""The HTTP front end (receive/http_front.py) of a real `tlsscope serve`, attacked on loopback:
header floods, slow headers, too many connections, clients that go away mid-body."""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.served import REPORT, Served

pytestmark = pytest.mark.server

TIMEOUT = 1.5  # the header timeout of the servers below (the default is 10 s)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Loopback is the trusted proxy here (the default): not capped per address."""
    running = Served(tmp_path_factory.mktemp("front"), TLSSCOPE_HTTP_HEADER_TIMEOUT=str(TIMEOUT))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """3 connections per address, 5 in all; loopback is not a trusted proxy."""
    running = Served(tmp_path_factory.mktemp("capped"), TLSSCOPE_HTTP_HEADER_TIMEOUT="5",
                     TLSSCOPE_HTTP_MAX_CONNECTIONS_PER_ADDRESS="3",
                     TLSSCOPE_HTTP_MAX_CONNECTIONS="5", TLSSCOPE_FORWARDED_ALLOW_IPS="192.0.2.1")
    yield running
    running.stop()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def connect(served: Served, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", served.port), timeout=10,
                                    source_address=(source, 0))


def get_from(served: Served, source: str) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        return client.get(f"{served.url}/healthz")


def answer(sock: socket.socket) -> bytes:
    """What the server sends before it closes (b"" for a bare close or a reset)."""
    sock.settimeout(10)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_a_header_flood_is_cut_off_and_memory_stays_bounded(served: Served) -> None:
    """The repro: 40 connections x 20 MB of one unfinished header (1,077 MB before)."""
    before = rss_mb(served.process.pid)
    peak, cut_off = [before], []
    done = threading.Event()

    def flood() -> None:
        chunk = b"a" * 65536
        with connect(served) as sock:
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Flood: ")
                for _ in range(20 * 16):
                    sock.sendall(chunk)
            except OSError:  # reset: the server stopped reading
                cut_off.append(True)
                return
            reply = answer(sock)  # the server read and dropped the rest, then closed
            cut_off.append(reply == b"" or reply.startswith(b"HTTP/1.1 431 "))

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(served.process.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    clients = [threading.Thread(target=flood) for _ in range(40)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(60)
    done.set()
    watcher.join()
    print(f"RSS {before:.0f} MB before, {peak[0]:.0f} MB at the peak of the flood")
    assert cut_off == [True] * 40
    assert peak[0] < 300 and peak[0] - before < 100
    assert httpx.get(f"{served.url}/healthz", timeout=10).status_code == 200


def test_slow_headers_are_closed_within_the_header_timeout(served: Served) -> None:
    """The repro: 200 connections dribbling headers were all open 60 s later. An idle
    connection (nothing sent) is closed too, without an answer."""
    count = 100
    socks = [connect(served) for _ in range(count)]
    idle = connect(served)
    started = time.monotonic()
    for sock in socks:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        sock.setblocking(False)
    idle.setblocking(False)
    selector = selectors.DefaultSelector()
    for sock in [*socks, idle]:
        selector.register(sock, selectors.EVENT_READ)
    closed: dict[socket.socket, tuple[float, bytes]] = {}
    next_line = started
    while len(closed) < count + 1 and time.monotonic() - started < TIMEOUT + 10:
        if time.monotonic() >= next_line:  # a header line every 0.3 s: never done
            for sock in socks:
                if sock not in closed:
                    try:
                        sock.send(b"X-Slow: 1\r\n")
                    except OSError:
                        pass
            next_line += 0.3
        for key, _ in selector.select(0.05):
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            sock = ready
            try:
                reply = sock.recv(65536)
            except OSError:
                reply = b""
            closed[sock] = (time.monotonic() - started, reply)
            selector.unregister(sock)
    for sock in [*socks, idle]:
        sock.close()
    assert len(closed) == count + 1, f"{count + 1 - len(closed)} still open"
    after = sorted(seconds for seconds, _ in closed.values())
    print(f"slow headers closed after {after[0]:.2f}-{after[-1]:.2f} s (timeout {TIMEOUT} s)")
    assert TIMEOUT - 0.2 < after[0] and after[-1] < TIMEOUT + 2
    assert all(closed[sock][1].startswith(b"HTTP/1.1 408 ") for sock in socks)
    assert closed[idle][1] == b""
    assert httpx.get(f"{served.url}/healthz", timeout=10).status_code == 200


def test_a_kept_alive_connection_times_its_next_request_s_headers_too(served: Served) -> None:
    sock = connect(served)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while not first.endswith(b"}"):  # headers and body may come in two segments
        chunk = sock.recv(65536)
        assert chunk, first
        first += chunk
    assert first.startswith(b"HTTP/1.1 200 ")
    started = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # and nothing more
    assert answer(sock).startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < TIMEOUT + 2
    sock.close()


def test_large_or_many_headers_get_431_and_ordinary_requests_pass(served: Served) -> None:
    url = f"{served.url}/healthz"
    assert httpx.get(url, headers={"x-big": "a" * 40_000}).status_code == 431
    many = httpx.get(url, headers={f"x-{n}": "1" for n in range(150)})
    assert many.status_code == 431 and many.text == "too many request header fields\n"
    fine = {**{f"x-{n}": "1" for n in range(80)}, "x-big": "a" * 20_000}
    assert httpx.get(url, headers=fine).status_code == 200
    # A body in the same packets as the headers is not counted as headers.
    body = json.dumps({**REPORT, "report-id": "front-large-body"}).encode() + b" " * 300_000
    posted = httpx.post(f"{served.url}/v1/tlsrpt", content=body, timeout=30,
                        headers={"content-type": "application/tlsrpt+json"})
    assert posted.status_code == 201, posted.text


def test_a_client_gone_mid_body_is_one_quiet_line(served: Served) -> None:
    sock = connect(served)
    sock.sendall(b"POST /v1/tlsrpt HTTP/1.1\r\nHost: x\r\ncontent-type: application/tlsrpt+json"
                 b"\r\ncontent-length: 100000\r\n\r\n" + b"{" * 1000)
    time.sleep(0.3)
    sock.close()
    deadline = time.monotonic() + 10
    while not [line for line in served.lines() if line["message"] ==
               "client went away mid-request"]:
        assert time.monotonic() < deadline, "no log line"
        time.sleep(0.05)
    (line,) = [line for line in served.lines()
               if line["message"] == "client went away mid-request"]
    assert line["level"] == "info" and line["path"] == "/v1/tlsrpt" and "error" not in line
    assert not [line for line in served.lines() if line["level"] == "error"]
    assert "Exception in ASGI application" not in served.log.read_text()


def test_connections_over_the_per_address_cap_get_429(capped: Served) -> None:
    held = [connect(capped, "127.0.0.2") for _ in range(3)]
    try:
        over = connect(capped, "127.0.0.2")
        over.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = answer(over)
        assert reply.startswith(b"HTTP/1.1 429 ") and b"retry-after: 10\r\n" in reply
        over.close()
        assert b"too many connections from this address" in reply
        assert get_from(capped, "127.0.0.3").status_code == 200  # another address is not held back
    finally:
        held.pop().close()
    time.sleep(0.2)
    assert get_from(capped, "127.0.0.2").status_code == 200  # one closed: room for one
    for sock in held:
        sock.close()


def test_connections_over_the_overall_cap_get_503(capped: Served) -> None:
    time.sleep(0.2)  # the previous test's connections are gone
    held = [connect(capped, source) for source in ("127.0.0.2", "127.0.0.2", "127.0.0.3",
                                                    "127.0.0.3", "127.0.0.4")]
    try:
        over = connect(capped, "127.0.0.5")
        over.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = answer(over)
        over.close()
        assert reply.startswith(b"HTTP/1.1 503 ") and b"too many connections" in reply
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    assert httpx.get(f"{capped.url}/healthz", timeout=10).status_code == 200
    lines = [line for line in capped.lines() if line["message"] == "connection closed"]
    assert {line["why"] for line in lines} >= {"too many connections",
                                               "too many connections from this address"}
