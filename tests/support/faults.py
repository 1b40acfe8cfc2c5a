"""DNS servers that fail, on loopback, for the inconclusive-check tests.

    with silent_server() as address: ...    # "127.0.0.1:PORT": takes queries, never answers
    with closed_port() as address: ...      # nothing listening: connection refused
    with FailingDns(records, servfail={"flaky.example", "mx1.example/AAAA"}) as dns: ...
        # tests/support/dnsserver.py's answers, but SERVFAIL for those names (or NAME/TYPE)
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import QTYPE
from dnslib.server import BaseResolver

from tests.support.dnsserver import DnsServer


@contextmanager
def silent_server() -> Iterator[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def closed_port() -> Iterator[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"127.0.0.1:{port}"


class _Servfail(BaseResolver):  # type: ignore[misc]
    def __init__(self, inner: Any, servfail: set[str]) -> None:
        self.inner = inner
        self.servfail = {name.lower().rstrip(".") for name in servfail}

    def resolve(self, request: Any, handler: Any) -> Any:
        name = str(request.q.qname).lower().rstrip(".")
        if {name, f"{name}/{QTYPE[request.q.qtype]}"} & self.servfail:
            reply = request.reply()
            reply.header.rcode = 2  # SERVFAIL
            return reply
        return self.inner.resolve(request, handler)


class FailingDns(DnsServer):
    def __init__(self, records: dict[str, list[tuple[str, str]]], servfail: set[str]) -> None:
        super().__init__(records)
        udp = self.server.server
        udp.resolver = _Servfail(udp.resolver, servfail)

    def __enter__(self) -> FailingDns:
        super().__enter__()
        return self

    @property
    def nameserver(self) -> str:
        host, port = self.address
        return f"{host}:{port}"
