"""What is this blob? Decided by its content (magic bytes and shape), never by its name."""

from __future__ import annotations

import enum
import re

from tlsscope.parse.decompress import GZIP_MAGIC, ZIP_MAGIC


class Kind(enum.StrEnum):
    EMPTY = "empty"
    JSON = "json"
    GZIP = "gzip"
    ZIP = "zip"
    MAIL = "mail"
    MBOX = "mbox"
    XML = "xml"
    BASE64 = "base64"
    OTHER = "other"


_HEADER_LINE = re.compile(rb"[!-9;-~]{1,76}:[ \t]*\S?")
_BASE64 = re.compile(rb"[A-Za-z0-9+/=\r\n]+")
_BOM = b"\xef\xbb\xbf"


def sniff(data: bytes) -> Kind:
    if data.startswith(GZIP_MAGIC):
        return Kind.GZIP
    if data.startswith(ZIP_MAGIC):
        return Kind.ZIP
    head = data[:4096].removeprefix(_BOM).lstrip()
    if not head:
        return Kind.EMPTY
    if head[:1] in (b"{", b"["):
        return Kind.JSON
    if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
        return Kind.JSON if head[2:].replace(b"\x00", b"").lstrip()[:1] in (b"{", b"[") \
            else Kind.OTHER
    if head.startswith(b"<"):
        return Kind.XML if head.startswith((b"<?xml", b"<feedback")) else Kind.OTHER
    if data.startswith(b"From ") and b"\n" in head:
        return Kind.MBOX
    first_line = head.split(b"\n", 1)[0]
    if _HEADER_LINE.match(first_line) and (b"\n\n" in data or b"\r\n\r\n" in data):
        return Kind.MAIL
    if len(head) >= 16 and _BASE64.fullmatch(data.strip()[:4096]):
        return Kind.BASE64
    return Kind.OTHER


def describe(data: bytes, kind: Kind) -> str:
    """A short guess at what a non-report is, for the "not a TLS-RPT report" message."""
    head = data[:2048].lstrip().lower()
    if kind is Kind.EMPTY:
        return "empty input"
    if kind is Kind.XML:
        if b"<feedback" in head or b"<report_metadata" in head:
            return "XML that looks like a DMARC aggregate report (RFC 7489)"
        return "an XML document"
    if head.startswith(b"%pdf"):
        return "a PDF document"
    if head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if head.startswith(b"\x89png"):
        return "a PNG image"
    if head.startswith(b"\xff\xd8"):
        return "a JPEG image"
    if b"\x00" in data[:1024]:
        return "binary data of an unknown format"
    return "text that is not a TLS-RPT report"
