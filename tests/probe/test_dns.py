"""DNS lookups against a real DNS server on loopback (tests/support/dnsserver.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dnsserver import DnsServer
from tlsscope.parse.records import check_all
from tlsscope.probe.dns import Resolver

pytestmark = pytest.mark.server

LONG_RUA = "v=TLSRPTv1; rua=" + ",".join(f"mailto:tls{n}@example.com" for n in range(14))
RECORDS = {
    "_smtp._tls.example.com": [("TXT", "v=TLSRPTv1; rua=mailto:tls@example.com"),
                               ("TXT", "some other text")],
    "_smtp._tls.long.example": [("TXT", LONG_RUA)],
    "_smtp._tls.two.example": [("TXT", "v=TLSRPTv1; rua=mailto:a@two.example"),
                               ("TXT", "v=TLSRPTv1; rua=mailto:b@two.example")],
    "example.com": [("MX", "20 MX2.example.com."), ("MX", "10 mx1.example.com."),
                    ("A", "192.0.2.1")],
    "mx1.example.com": [("A", "192.0.2.10"), ("AAAA", "2001:db8::10")],
    "v6only.example.com": [("AAAA", "2001:db8::11")],
}


@pytest.fixture(scope="module")
def resolver() -> Iterator[Resolver]:
    with DnsServer(RECORDS) as server:
        host, port = server.address
        yield Resolver(f"{host}:{port}", timeout=3)


def test_txt_records_are_joined_and_checked_as_one_answer(resolver: Resolver) -> None:
    answer = resolver.txt("_smtp._tls.example.com")
    assert answer.status == "ok"
    assert sorted(answer.values) == ["some other text", "v=TLSRPTv1; rua=mailto:tls@example.com"]
    long = resolver.txt("_smtp._tls.long.example")
    assert long.values == [LONG_RUA] and len(LONG_RUA) > 255  # split in strings, joined back
    two = resolver.txt("_smtp._tls.two.example")
    assert [c.valid for c in check_all(two.values)] == [False, False]


def test_missing_names_and_types(resolver: Resolver) -> None:
    assert resolver.txt("_smtp._tls.nowhere.example").status == "nxdomain"
    assert resolver.txt("example.com").status == "noanswer"


def test_mx_sorted_by_preference_and_addresses(resolver: Resolver) -> None:
    assert resolver.mx("example.com").values == ["10 mx1.example.com", "20 mx2.example.com"]
    assert resolver.addresses("mx1.example.com").values == ["192.0.2.10", "2001:db8::10"]
    assert resolver.addresses("v6only.example.com").values == ["2001:db8::11"]
    assert resolver.addresses("gone.example.com").status == "nxdomain"


def test_unreachable_resolver_is_a_failure_not_an_exception() -> None:
    answer = Resolver("127.0.0.1:9", timeout=0.5).txt("_smtp._tls.example.com")
    assert answer.status == "failed" and answer.failed
    assert answer.reason == "connection refused (server 127.0.0.1:9)"
