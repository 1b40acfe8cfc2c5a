"""A small fake internet on loopback for live checks: a DNS server (TXT, MX, A, TLSA, with
DNSSEC-validated answers where needed), an HTTPS policy host and aiosmtpd MX hosts, all with a
test CA. Each `*.example` domain tells one story (see RECORDS and BEHAVIOURS).

    python -m tests.support.fakenet    # start it, print the `tlsscope check` options, wait for ^C
"""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import msgspec
import trustme

from tests.support.dnsserver import DnsServer
from tests.support.mxhosts import MxHosts
from tests.support.policyhost import PolicyHost
from tlsscope.settings import Settings

POLICY = "version: STSv1\r\nmode: enforce\r\nmx: *.good.example\r\nmax_age: 604800\r\n"

RECORDS = {
    "_smtp._tls.good.example": [("TXT", "v=TLSRPTv1; rua=mailto:tls@reports.example")],
    "_mta-sts.good.example": [("TXT", "v=STSv1; id=20261128T000000;")],
    "reports.example": [("MX", "10 mx.reports.example.")],
    "_smtp._tls.bad.example": [("TXT", "v=TLSRPTv1; rua=mailto:a@reports.example"),
                               ("TXT", "v=TLSRPTv1; rua=mailto:b@reports.example")],
    "_smtp._tls.lost.example": [("TXT", "v=TLSRPTv1; rua=mailto:tls@nomail.example,"
                                        "https://127.0.0.1:1/tlsrpt,mailto:x@aonly.example")],
    "_mta-sts.lost.example": [("TXT", "v=STSv1; id=not-valid!")],
    "aonly.example": [("A", "192.0.2.7")],
    "good.example": [("MX", "10 mx1.good.example.")],
    "mx1.good.example": [("A", "127.0.0.2")],
    "mail.example": [("MX", f"{n} {name}.mail.example.") for n, name in enumerate(
        ("good", "plain", "expired", "wrongname", "selfsigned", "soon", "nointermediate",
         "noaddress"))],
    **{f"{name}.mail.example": [("A", f"127.0.0.{n}")] for n, name in enumerate(
        ("good", "plain", "expired", "wrongname", "selfsigned", "soon", "nointermediate"),
        start=3)},
    "mta-sts.good.example": [("A", "127.0.0.1")],
    "drift.example": [("MX", "10 mx1.drift.example."), ("MX", "20 backup.elsewhere.example.")],
    "mta-sts.drift.example": [("A", "127.0.0.1")],
    **{f"mta-sts.{name}.example": [("A", "127.0.0.1")]
       for name in ("p404", "redirect", "media", "big", "wrongname", "broken", "soon")},
}
BEHAVIOURS = {
    "mta-sts.good.example": ("policy", POLICY),
    "mta-sts.drift.example": ("policy", POLICY.replace("good", "drift")),
    "mta-sts.p404.example": ("status", "404"),
    "mta-sts.redirect.example": ("redirect", "https://elsewhere.example/mta-sts.txt"),
    "mta-sts.media.example": ("media", POLICY),
    "mta-sts.big.example": ("oversize", str(70 * 1024)),
    "mta-sts.wrongname.example": ("policy", POLICY),
    "mta-sts.broken.example": ("policy", "version: STSv1\nmode: enforcing\n"),
    "mta-sts.soon.example": ("policy", POLICY.replace("good", "soon")),
}
CERT_NAMES = [name for name in BEHAVIOURS if name != "mta-sts.wrongname.example"]


MX_STORIES = {f"{name}.mail.example": (f"127.0.0.{n}", name) for n, name in enumerate(
    ("good", "plain", "expired", "wrongname", "selfsigned", "soon", "nointermediate"), start=3)}


def tlsa_311(der: bytes) -> str:
    """A DANE-EE record for a certificate: usage 3, SPKI, SHA-256 (RFC 7672 §3.1.1)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    spki = x509.load_der_x509_certificate(der).public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return f"3 1 1 {hashlib.sha256(spki).hexdigest()}"


@contextmanager
def fake_internet() -> Iterator[str]:
    """Start everything; yields the setup string that `options` turns into CLI options."""
    ca = trustme.CA()
    stories = {"mx1.good.example": ("127.0.0.2", "good"), **MX_STORIES}
    with PolicyHost(BEHAVIOURS, CERT_NAMES, ca, expiring=["mta-sts.soon.example"]) as policy, \
            MxHosts(ca, stories) as mx_hosts:
        certs = mx_hosts.certs
        records = {
            **RECORDS,
            # Matches; DANE-EE ignores that the certificate names another host (§3.1.1).
            "_25._tcp.wrongname.mail.example": [
                ("TLSA", tlsa_311(certs["wrongname.mail.example"]))],
            # Does not match the certificate in use.
            "_25._tcp.expired.mail.example": [("TLSA", "3 1 1 " + "ab" * 32)],
            # Matches, but not DNSSEC-validated.
            "_25._tcp.soon.mail.example": [("TLSA", tlsa_311(certs["soon.mail.example"]))],
            # Validated records, and no STARTTLS.
            "_25._tcp.plain.mail.example": [("TLSA", "3 1 1 " + "cd" * 32)],
        }
        validated = {"_25._tcp.wrongname.mail.example", "_25._tcp.expired.mail.example",
                     "_25._tcp.plain.mail.example"}
        with DnsServer(records, validated) as server:
            host, port = server.address
            yield f"{host}:{port}|{policy.port}|{policy.ca_file}|{mx_hosts.port}"


def options(setup: str, save: bool = False) -> list[str]:
    """`tlsscope check` options that point every probe at the fake internet."""
    address, port, ca_file, smtp_port = setup.split("|")
    return ["--nameserver", address, "--timeout", "3", "--https-port", port,
            "--ca-file", ca_file, "--smtp-port", smtp_port, "--allow-private",
            "--save" if save else "--no-save"]


def environment(setup: str) -> dict[str, str]:
    """The same, as TLSSCOPE_* settings (for `tlsscope serve`'s re-checks)."""
    address, port, ca_file, smtp_port = setup.split("|")
    return {"TLSSCOPE_DNS_NAMESERVER": address, "TLSSCOPE_CHECK_TIMEOUT": "3",
            "TLSSCOPE_CHECK_HTTPS_PORT": port, "TLSSCOPE_CHECK_CA_FILE": ca_file,
            "TLSSCOPE_CHECK_SMTP_PORT": smtp_port, "TLSSCOPE_CHECK_ALLOW_PRIVATE": "true",
            # the fake domains belong to no organisation: let serve re-check them anyway
            "TLSSCOPE_CHECK_UNOWNED": "true"}


def settings(setup: str, **extra: object) -> Settings:
    """Settings whose checks go to the fake internet, plus `extra` ones."""
    values = {key.removeprefix("TLSSCOPE_").lower(): value
              for key, value in environment(setup).items()}
    return msgspec.convert({**values, **extra}, Settings, strict=False)


if __name__ == "__main__":
    with fake_internet() as setup:
        print(" ".join(options(setup)), flush=True)
        print(" ".join(f"{k}={v}" for k, v in environment(setup).items()), flush=True)
        signal.pause()
