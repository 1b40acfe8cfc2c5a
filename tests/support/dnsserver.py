"""A small authoritative DNS server for the tests (dnslib), answering from a dict of records.

    with DnsServer({"sel._domainkey.example.net": [("TXT", "v=DKIM1; p=...")]}) as dns:
        dns.address  # ("127.0.0.1", port)

A name with records but none of the asked type answers NoAnswer (NOERROR, empty); an unknown
name answers NXDOMAIN (dnslib's ZoneResolver does not make that difference).
"""

from __future__ import annotations

from typing import Any

from dnslib import AAAA, MX, QTYPE, RR, TLSA, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

_MAKE = {"A": A, "AAAA": AAAA, "TXT": lambda v: TXT([v[i:i + 255] for i in range(0, len(v), 255)]),
         "MX": lambda v: MX(v.split()[1], int(v.split()[0])),
         "TLSA": lambda v: TLSA(int(v.split()[0]), int(v.split()[1]), int(v.split()[2]),
                                bytes.fromhex(v.split()[3]))}


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, records: dict[str, list[tuple[str, str]]],
                 authenticated: set[str]) -> None:
        self.records = {name.lower().rstrip("."): values for name, values in records.items()}
        self.authenticated = {name.lower().rstrip(".") for name in authenticated}

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        kind = QTYPE[request.q.qtype]
        if name not in self.records:
            reply.header.rcode = 3  # NXDOMAIN
            return reply
        # AD as a validating resolver sets it (dnslib would echo the query's AD bit).
        reply.header.ad = 1 if name in self.authenticated else 0
        for record_type, value in self.records[name]:
            if record_type == kind:
                reply.add_answer(RR(request.q.qname, getattr(QTYPE, kind), ttl=60,
                                    rdata=_MAKE[kind](value)))
        return reply


class DnsServer:
    """`authenticated`: names answered with the AD bit, as a validating resolver would."""

    def __init__(self, records: dict[str, list[tuple[str, str]]],
                 authenticated: set[str] | None = None) -> None:
        self.server = DNSServer(_Resolver(records, authenticated or set()), port=0,
                                address="127.0.0.1",
                                logger=DNSLogger(log="-request,-reply,-truncated,-error"))

    def __enter__(self) -> DnsServer:
        self.server.start_thread()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.stop()
        self.server.server.server_close()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server.server_address[:2]
        return str(host), int(port)
