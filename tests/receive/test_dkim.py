"""DKIM of mailed reports (RFC 8460 §3): signed in the test with a generated key, verified
against a local DNS server; stored per input; required on demand."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.support import reads
from tests.support.dkim import MAIL, PUBLIC, sign
from tests.support.dnsserver import DnsServer
from tests.support.webserver import free_port
from tlsscope.intake import Intake
from tlsscope.receive import dkim as tlsrpt_dkim
from tlsscope.receive.files import RawInput
from tlsscope.receive.smtp import ReportHandler
from tlsscope.settings import Settings
from tlsscope.store import Saved, Store

pytestmark = pytest.mark.server

FIX = Path(__file__).parents[1] / "fixtures"
@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    records = {
        "tls2026._domainkey.mailer.example": [("TXT", f"v=DKIM1; k=rsa; s=tlsrpt; p={PUBLIC}")],
        "plain._domainkey.mailer.example": [("TXT", f"v=DKIM1; k=rsa; p={PUBLIC}")],
        "tls2026._domainkey.elsewhere.example": [("TXT", f"v=DKIM1; k=rsa; p={PUBLIC}")],
    }
    with DnsServer(records) as server:
        yield server


@pytest.fixture
def lookup(dns: DnsServer) -> tlsrpt_dkim.DnsTxt:
    host, port = dns.address
    return tlsrpt_dkim.resolver(f"{host}:{port}")


def test_signed_by_the_submitter_passes(lookup: tlsrpt_dkim.DnsTxt) -> None:
    verdict = tlsrpt_dkim.verify(sign(MAIL), lookup)
    assert (verdict.result, verdict.domain, verdict.aligned, verdict.tlsrpt_key) == (
        "pass", "mailer.example", True, True)
    plain = tlsrpt_dkim.verify(sign(MAIL, selector=b"plain"), lookup)
    assert plain.result == "pass" and plain.tlsrpt_key is True  # no s=: every service


def test_unsigned_tampered_misaligned_and_unknown_key(lookup: tlsrpt_dkim.DnsTxt) -> None:
    assert tlsrpt_dkim.verify(MAIL, lookup).result == "none"
    tampered = sign(MAIL).replace(b"Aggregate TLS report", b"Aggregate TLS rep0rt")
    assert tlsrpt_dkim.verify(tampered, lookup).result == "fail"
    other = tlsrpt_dkim.verify(sign(MAIL, domain=b"elsewhere.example"), lookup)
    assert other.result == "fail" and "not aligned" in other.detail
    missing = tlsrpt_dkim.verify(sign(MAIL, selector=b"gone"), lookup)
    assert missing.result == "fail"


class Receiver:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.intake = Intake(store, settings)

        async def deliver(raw: RawInput) -> Saved:
            return await asyncio.wrap_future(self.intake.submit(raw))

        self.port = free_port()
        self.controller = Controller(ReportHandler(deliver, ["tls@example.com"]),
                                     hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def send(self, message: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            assert client.sendmail("tlsrpt@mailer.example", ["tls@example.com"], message) == {}

    def stop(self) -> None:
        self.controller.stop()
        self.intake.close()


@pytest.mark.parametrize("required", [False, True])
def test_received_mail_records_dkim_and_can_require_it(
        tmp_path: Path, dns: DnsServer, required: bool) -> None:
    host, port = dns.address
    settings = Settings(dns_nameserver=f"{host}:{port}", dkim_required=required)
    with Store.open(f"sqlite:///{tmp_path / 'dkim.db'}") as store:
        receiver = Receiver(store, settings)
        try:
            receiver.send(sign(MAIL))
            unsigned = (FIX / "quirks" / "mail-json-7bit.eml").read_bytes().replace(
                b'"report-id":"2025-03-11T00:00:00Z_example.com"',
                b'"report-id":"another-report"').replace(b"\n", b"\r\n")
            receiver.send(unsigned)
        finally:
            receiver.stop()
        summaries = reads.reports(store)
        (key,) = [s.key for s in summaries if s.report_id != "another-report"]
        signed = reads.report(store, key)
        assert signed is not None
        assert (signed.source.dkim_result, signed.source.dkim_aligned) == ("pass", True)
        if required:
            assert len(summaries) == 1
            (held,) = reads.quarantine(store)
            assert held.dkim_result == "none"
            assert held.errors[0].code == "dkim_required"
        else:
            assert len(summaries) == 2 and reads.quarantine(store) == []
            results = {reads.report(store, s.key).source.dkim_result for s in summaries}  # type: ignore[union-attr]
            assert results == {"pass", "none"}


def test_files_are_not_checked_unless_asked(tmp_path: Path) -> None:
    from tlsscope.app.ingest import load as ingest
    from tlsscope.receive.files import iter_inputs

    with Store.open(f"sqlite:///{tmp_path / 'f.db'}") as store:
        path = FIX / "quirks" / "mail-rfc-shape.eml"
        ingest(store, iter_inputs([str(path)], 1 << 20), Settings())
        stored = reads.report(store, reads.reports(store)[0].key)
        assert stored is not None and stored.source.dkim_result is None


def test_many_signatures_and_a_silent_resolver_have_a_budget() -> None:
    """Issue 13's repro: 20 signatures and a nameserver that never answers took the writer
    64 s; now at most MAX_SIGNATURES are tried and a silent resolver costs one timeout."""
    import time

    from tests.support.faults import silent_server

    signed = MAIL
    for n in range(20):
        signed = sign(signed, selector=f"s{n}".encode())
    with silent_server() as address:
        lookup = tlsrpt_dkim.resolver(address, timeout=0.5)
        started = time.monotonic()
        verdict = tlsrpt_dkim.verify(signed, lookup)
        took = time.monotonic() - started
    assert verdict.result == "temperror"  # no key lookup was answered: not a verdict
    assert "20 DKIM-Signature headers: only the first 5 were tried" in verdict.detail
    assert "the key could not be looked up" in verdict.detail
    assert took < 3, took  # one 0.5 s timeout, then the resolver is not asked again
