"""A DKIM key made for the tests and a report mail signed with it (RFC 8460 §3: the
submitter signs, with `s=tlsrpt` on the key's record when it is for TLS reports only)."""

from __future__ import annotations

import base64
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

FIX = Path(__file__).parents[1] / "fixtures"
MAIL = (FIX / "quirks" / "mail-rfc-shape.eml").read_bytes().replace(b"\n", b"\r\n")
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                        serialization.NoEncryption())
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"tls-report-domain",
           b"tls-report-submitter"]


def sign(message: bytes, domain: bytes = b"mailer.example", selector: bytes = b"tls2026") -> bytes:
    signature: bytes = dkim.sign(message, selector, domain, PEM, include_headers=HEADERS,
                                 tlsrpt=True)
    return signature + message
