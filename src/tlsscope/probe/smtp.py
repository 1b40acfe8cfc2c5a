"""Probe one MX address on port 25: EHLO, whether STARTTLS is offered, the TLS version and
cipher, the certificate chain it serves, and whether it verifies for the MX name against the
trust store (RFC 8461 §4.2 for MTA-STS; RFC 7672 does its own checks from TLSA).

Two connections: one that accepts any certificate, so that every detail is read even when the
certificate is bad, and one that verifies it, for OpenSSL's verdict (which names only the
first problem; see the check step for the others)."""

from __future__ import annotations

import _ssl
import smtplib
import socket
import ssl
from typing import NamedTuple

from tlsscope.probe import connect

HELO = "tlsscope.invalid"
_DER = _ssl.ENCODING_DER  # what Certificate.public_bytes takes for DER


class MxProbe(NamedTuple):
    host: str
    address: str
    error: str  # "" once an SMTP greeting and EHLO answer came
    starttls: bool  # offered in the EHLO answer
    tls_version: str
    cipher: str
    leaf_der: bytes  # b"" without a TLS session
    chain_der: list[bytes]  # as the server sent it (leaf first), when the runtime exposes it
    verified: bool
    verify_error: str
    verify_code: int | None


class _Smtp(smtplib.SMTP):
    """smtplib, its connection made by the one connector (probe/connect.py)."""

    allow_private = False

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return connect.tcp(host, port, timeout, self.allow_private)


def _session(host: str, address: str, port: int, timeout: float,
             allow_private: bool) -> smtplib.SMTP:
    client = _Smtp(timeout=timeout, local_hostname=HELO)
    client.allow_private = allow_private
    # smtplib sends as SNI, and verifies, the name it was created with; the MX name is the one
    # that counts (RFC 8461 §7.1), while the connection goes to one of its addresses.
    client._host = host  # type: ignore[attr-defined]
    client.connect(address, port)
    client.ehlo()
    return client


def probe_mx(host: str, address: str, port: int = 25, timeout: float = 10.0,
             cafile: str | None = None, allow_private: bool = False) -> MxProbe:
    try:
        client = _session(host, address, port, timeout, allow_private)
    except (OSError, smtplib.SMTPException, connect.Refused) as exc:
        return MxProbe(host, address, f"{type(exc).__name__}: {exc}"[:300], False, "", "", b"",
                       [], False, "", None)
    with client:
        if not client.has_extn("starttls"):
            return MxProbe(host, address, "", False, "", "", b"", [], False, "", None)
        loose = ssl.create_default_context()
        loose.check_hostname = False
        loose.verify_mode = ssl.CERT_NONE
        try:
            client.starttls(context=loose)
        except (OSError, ValueError, smtplib.SMTPException) as exc:
            return MxProbe(host, address, "", True, "", "", b"", [], False,
                           f"TLS handshake failed: {type(exc).__name__}: {exc}"[:300], None)
        tls = client.sock
        assert isinstance(tls, ssl.SSLSocket)
        leaf = tls.getpeercert(binary_form=True) or b""
        chain = _chain(tls) or ([leaf] if leaf else [])
        version, cipher = tls.version() or "", (tls.cipher() or ("",))[0]
    verified, message, code = _verify(host, address, port, timeout, cafile, allow_private)
    return MxProbe(host, address, "", True, version, cipher, leaf, chain, verified, message,
                   code)


def _chain(tls: ssl.SSLSocket) -> list[bytes]:
    """The chain as sent (public from Python 3.13; the same call is private before)."""
    getter = getattr(tls, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    if getter is None:
        return []
    try:
        certs = getter() or []
    except (ssl.SSLError, ValueError):
        return []
    out = []
    for cert in certs:
        der = cert.public_bytes(_DER) if hasattr(cert, "public_bytes") else cert
        out.append(bytes(der))
    return out


def _verify(host: str, address: str, port: int, timeout: float, cafile: str | None,
            allow_private: bool) -> tuple[bool, str, int | None]:
    context = ssl.create_default_context()
    if cafile:
        context.load_verify_locations(cafile=cafile)
    try:
        client = _session(host, address, port, timeout, allow_private)
    except (OSError, smtplib.SMTPException, connect.Refused) as exc:
        return False, f"second connection failed: {type(exc).__name__}: {exc}"[:300], None
    with client:
        try:
            client.starttls(context=context)
        except ssl.SSLCertVerificationError as exc:
            return False, str(exc.verify_message), int(exc.verify_code)
        except (OSError, ValueError, smtplib.SMTPException) as exc:
            return False, f"{type(exc).__name__}: {exc}"[:300], None
    return True, "", None
