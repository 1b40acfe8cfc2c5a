"""Report mails from the fixtures, as an MTA sends them, and the address they are sent to."""

from __future__ import annotations

from pathlib import Path

FIX = Path(__file__).parents[1] / "fixtures"
RUA = "tls-reports@example.com"


def crlf(data: bytes) -> bytes:
    """As an MTA sends it: smtplib does not convert the line ends of a bytes message."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def mail(name: str) -> bytes:
    """tests/fixtures/real/`name`, with CRLF line ends."""
    return crlf((FIX / "real" / name).read_bytes())
