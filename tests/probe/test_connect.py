"""No report can make tlsscope connect inside the network: IP literals in every form, embedded
IPv4 (NAT64, 6to4, mapped, compatible), and a DNS server that rebinds its answer. A listener
on loopback counts what reaches it: nothing may."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver

from tests.support.dnsserver import DnsServer
from tlsscope.check.run import Options, run
from tlsscope.probe.connect import Refused, literal, refused, tcp

pytestmark = pytest.mark.server


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    opened = Listener()
    yield opened
    opened.close()


class _Rebinding(BaseResolver):  # type: ignore[misc]
    """The first A answer for rebind.evil.example is public, every later one loopback."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.asked = inner, 0

    def resolve(self, request: Any, handler: Any) -> Any:
        name = str(request.q.qname).rstrip(".")
        if name == "rebind.evil.example" and QTYPE[request.q.qtype] == "A":
            self.asked += 1
            reply = request.reply()
            answer = "8.8.8.8" if self.asked == 1 else "127.0.0.1"  # public, then inside
            reply.add_answer(RR(request.q.qname, QTYPE.A, ttl=0, rdata=A(answer)))
            return reply
        return self.inner.resolve(request, handler)


LITERALS = ["127.1", "0x7f000001", "2130706433", "0177.0.0.1", "127.0.0.1", "[::1]",
            "[::ffff:127.0.0.1]", "[::127.0.0.1]", "[::ffff:0:127.0.0.1]"]


@pytest.mark.parametrize("form", [
    "127.1", "0x7f.1", "2130706433", "0177.0.0.1", "::ffff:127.0.0.1", "::127.0.0.1",
    "::ffff:0:127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1", "2002:7f00:1::1",
    "2002:a9fe:a9fe::", "fe80::1", "169.254.169.254", "100.64.0.1", "224.0.0.1", "::",
])
def test_every_form_of_an_inside_address_is_refused(form: str) -> None:
    assert refused(form, allow_private=False), form
    with pytest.raises(Refused):
        tcp(form, 9, 1, allow_private=False)


@pytest.mark.parametrize("form", ["8.8.8.8", "2001:4860:4860::8888", "64:ff9b::808:808",
                                  "2002:808:808::1"])
def test_public_addresses_pass_in_every_form(form: str) -> None:
    assert refused(form, allow_private=False) is None


def test_literals_are_read_as_the_os_reads_them() -> None:
    assert str(literal("127.1")) == "127.0.0.1"
    assert str(literal("0x7f000001")) == "127.0.0.1"
    assert str(literal("[::ffff:127.0.0.1]")) == "::ffff:7f00:1"
    assert literal("example.com") is None and literal("x" * 100_000) is None


HOSTS = {  # the rua host → its DNS records (none: an IP literal)
    **{form: [] for form in LITERALS},
    "nat64.evil.example": [("AAAA", "64:ff9b::7f00:1")],
    "sixtofour.evil.example": [("AAAA", "2002:7f00:1::1")],
    "mapped.evil.example": [("AAAA", "::ffff:7f00:1")],
    "private.evil.example": [("A", "10.0.0.1"), ("A", "127.0.0.1")],
}


@pytest.mark.parametrize("host", list(HOSTS))
def test_no_rua_reaches_the_inside(listener: Listener, host: str) -> None:
    uri = f"https://{host}:{listener.port}/v1/tlsrpt"
    records = {"_smtp._tls.evil.example": [("TXT", f"v=TLSRPTv1; rua={uri}")]}
    if HOSTS[host]:
        records[host] = HOSTS[host]
    with DnsServer(records) as dns:
        address, port = dns.address
        result = run("evil.example", Options(nameserver=f"{address}:{port}", timeout=1))
    assert listener.accepted == 0
    steps = [s for s in result.steps if s.step == "tlsrpt-rua"]
    if not steps:  # the record itself is refused (no host name): nothing is probed
        (record,) = [s for s in result.steps if s.step == "tlsrpt-record"]
        assert record.status == "error", record
        return
    (step,) = steps
    assert "not checked" in step.line and "refused" in step.line, step.line


def test_a_rebinding_answer_is_never_asked_for_again(listener: Listener) -> None:
    uri = f"https://rebind.evil.example:{listener.port}/v1/tlsrpt"
    records = {"_smtp._tls.evil.example": [("TXT", f"v=TLSRPTv1; rua={uri}")],
               "rebind.evil.example": [("TXT", "x")]}
    with DnsServer(records) as dns:
        udp = dns.server.server
        rebinding = _Rebinding(udp.resolver)
        udp.resolver = rebinding
        address, port = dns.address
        result = run("evil.example", Options(nameserver=f"{address}:{port}", timeout=1))
    (step,) = [s for s in result.steps if s.step == "tlsrpt-rua"]
    assert rebinding.asked == 1  # resolved once; the connection went to that answer
    assert listener.accepted == 0
    assert step.status == "error" and "does not answer" in step.line, step.line
