"""A lookup that got no answer (FAILED, with a reason) against negative answers (NXDOMAIN,
NOANSWER), on real loopback DNS servers (tests/support/faults.py): probe/dns.py decides."""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator

import dns.message
import dns.resolver
import pytest

from tests.support.faults import FailingDns, closed_port, silent_server
from tlsscope.probe.dns import FAILED, NOANSWER, NXDOMAIN, OK, Resolver, failure_reason

pytestmark = pytest.mark.server

RECORDS = {
    "example.com": [("MX", "10 mx1.example.com."), ("TXT", "hello")],
    "mx1.example.com": [("A", "192.0.2.10")],
    "half.example.com": [("A", "192.0.2.11")],
    "flaky.example.com": [("A", "192.0.2.12")],
}


@pytest.fixture(scope="module")
def failing() -> Iterator[FailingDns]:
    with FailingDns(RECORDS, {"flaky.example.com", "half.example.com/AAAA"}) as server:
        yield server


def test_a_server_that_never_answers_is_a_timeout() -> None:
    with silent_server() as address:
        started = time.monotonic()
        answer = Resolver(address, timeout=0.3).mx("example.com")
    assert time.monotonic() - started < 2
    assert (answer.status, answer.values) == (FAILED, [])
    assert answer.failed
    assert answer.reason == f"DNS timeout after 0.3 s (server {address})"


def test_a_port_with_nothing_listening_is_refused_at_once() -> None:
    with closed_port() as address:
        started = time.monotonic()
        answer = Resolver(address, timeout=5).txt("_smtp._tls.example.com")
    assert time.monotonic() - started < 1  # refused, not a timeout
    assert answer.status == FAILED
    assert answer.reason == f"connection refused (server {address})"


def test_servfail_is_a_failure_not_a_negative_answer(failing: FailingDns) -> None:
    resolver = Resolver(failing.nameserver, timeout=2)
    answer = resolver.txt("flaky.example.com")
    assert answer.status == FAILED
    assert answer.reason == f"SERVFAIL (server {failing.nameserver})"
    assert resolver.addresses("flaky.example.com").status == FAILED


def test_negative_answers_are_not_failures(failing: FailingDns) -> None:
    resolver = Resolver(failing.nameserver, timeout=2)
    nxdomain = resolver.mx("nowhere.example.com")
    assert (nxdomain.status, nxdomain.reason, nxdomain.failed) == (NXDOMAIN, "", False)
    nodata = resolver.mx("mx1.example.com")  # the name exists, with no MX
    assert (nodata.status, nodata.reason, nodata.failed) == (NOANSWER, "", False)
    assert resolver.txt("example.com").values == ["hello"]
    assert resolver.mx("example.com").status == OK


def test_addresses_combine_a_and_aaaa(failing: FailingDns) -> None:
    resolver = Resolver(failing.nameserver, timeout=2)
    # A answers, AAAA fails: the addresses found are an answer.
    assert resolver.addresses("half.example.com").values == ["192.0.2.11"]
    # Neither has records (NODATA twice), or the name does not exist: negative answers.
    assert resolver.addresses("example.com").status == NOANSWER
    assert resolver.addresses("nowhere.example.com").status == NXDOMAIN


def test_a_name_that_cannot_exist_is_a_negative_answer() -> None:
    with closed_port() as address:  # not even asked
        answer = Resolver(address, timeout=1).txt("a..example.com")
    assert answer.status == NXDOMAIN and "not a valid DNS name" in answer.reason


def _no_nameservers(*errors: tuple[str, object]) -> dns.resolver.NoNameservers:
    request = dns.message.make_query("example.com", "MX")
    return dns.resolver.NoNameservers(  # type: ignore[no-untyped-call]
        request=request, errors=[(server, False, 53, error, None) for server, error in errors])


@pytest.mark.parametrize(("exc", "reason"), [
    (_no_nameservers(("192.0.2.1:53", OSError(errno.ENETUNREACH, "Network is unreachable"))),
     "network unreachable (server 192.0.2.1:53)"),
    (_no_nameservers(("10.0.0.1:53", "SERVFAIL"), ("10.0.0.2:53", "REFUSED")),
     "SERVFAIL (server 10.0.0.1:53); REFUSED (server 10.0.0.2:53)"),
    (_no_nameservers(), "no nameserver answered"),
    (dns.resolver.LifetimeTimeout(timeout=5.01, errors=[]),  # type: ignore[no-untyped-call]
     "DNS timeout after 5 s (servers 10.0.0.1:53, 10.0.0.2:53)"),
    (dns.resolver.NoResolverConfiguration(),  # type: ignore[no-untyped-call]
     "no nameserver is configured"),
])
def test_every_failure_is_named(exc: Exception, reason: str) -> None:
    assert failure_reason(exc, 5.0, ["10.0.0.1:53", "10.0.0.2:53"]) == reason


def test_a_system_without_nameservers_fails_every_lookup(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*_: object) -> None:
        raise dns.resolver.NoResolverConfiguration(  # type: ignore[no-untyped-call]
            "cannot open /etc/resolv.conf")

    monkeypatch.setattr(dns.resolver.Resolver, "read_resolv_conf", missing)
    answer = Resolver(None, timeout=1).mx("example.com")
    assert (answer.status, answer.reason) == (FAILED, "no nameserver is configured")


def test_a_resolver_that_timed_out_is_not_asked_again_for_a_while(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tlsscope.probe.dns as probe_dns

    with silent_server() as address:
        resolver = Resolver(address, timeout=0.3)
        first = resolver.mx("example.com")
        started = time.monotonic()
        rest = [resolver.txt("_mta-sts.example.com"), resolver.addresses("mta-sts.example.com")]
        assert time.monotonic() - started < 0.1  # one timeout per check, not one per record
        assert all(answer.failed for answer in rest)
        assert rest[0].reason == f"{first.reason}; not asked again for 60 s"
        monkeypatch.setattr(probe_dns, "SILENT_SECONDS", 0.0)  # the minute is over
        resolver._silent = (time.monotonic(), first.reason)
        started = time.monotonic()
        assert resolver.txt("_smtp._tls.example.com").reason == first.reason
        assert time.monotonic() - started >= 0.25  # asked again


def test_dkim_keys_are_cached_but_a_failed_lookup_is_not() -> None:
    from tlsscope.receive.dkim import DnsUnavailable, resolver

    with FailingDns({"sel._domainkey.example.net": [("TXT", "v=DKIM1; p=abc")]},
                    {"flaky._domainkey.example.net"}) as server:
        lookup = resolver(server.nameserver, timeout=1)
        assert lookup("sel._domainkey.example.net") == "v=DKIM1; p=abc"
        with pytest.raises(DnsUnavailable):  # SERVFAIL: no answer, not "no key"
            lookup("flaky._domainkey.example.net")
        udp = server.server.server
        udp.resolver.servfail.clear()  # the outage is over...
        udp.resolver.inner.records["flaky._domainkey.example.net"] = [("TXT", "v=DKIM1; p=x")]
        udp.resolver.inner.records.pop("sel._domainkey.example.net")
        assert lookup("flaky._domainkey.example.net") == "v=DKIM1; p=x"  # ...and it is asked
        assert lookup("sel._domainkey.example.net") == "v=DKIM1; p=abc"  # cached answer
