"""Find the report parts of a mail, forwarded messages included (RFC 8460 §5.3, RFC 6522).

Parts are found by what they hold, not by how a sender labelled them: every application/* leaf
and every unlabelled leaf is a candidate, and text parts are candidates when their content
sniffs as a report. `text/html` parts (Microsoft's human-readable part) are skipped. Each part
remembers the headers of the nearest enclosing message, for the cross-checks.
"""

from __future__ import annotations

import email
import email.header
import email.utils
from email.message import Message
from email.policy import compat32
from typing import NamedTuple

from tlsscope.parse.envelope import Kind, sniff
from tlsscope.parse.values import decode_base64_text


class Envelope(NamedTuple):
    """The headers of a message that carries report parts."""

    content_type: str
    report_type: str | None
    report_domain: str | None
    submitter: str | None
    subject: str | None


class Part(NamedTuple):
    data: bytes
    content_type: str
    filename: str | None
    location: str
    envelope: Envelope


def message_parts(data: bytes) -> list[Part]:
    message = email.message_from_bytes(data, policy=compat32)
    parts: list[Part] = []
    _walk(message, _envelope(message), "", parts)
    return parts


def _walk(node: Message, envelope: Envelope, location: str, out: list[Part]) -> None:
    ctype = node.get_content_type()
    if node.is_multipart():
        children = node.get_payload()
        if not isinstance(children, list):
            return
        if ctype == "message/rfc822" or ctype == "message/global":
            for child in children:
                if isinstance(child, Message):
                    _walk(child, _envelope(child), f"{location}(forwarded)", out)
            return
        for index, child in enumerate(children, 1):
            if isinstance(child, Message):
                _walk(child, envelope, f"{location}.{index}" if location else f"part {index}", out)
        return
    if ctype.startswith(("image/", "audio/", "video/")) or ctype == "text/html":
        return
    payload = node.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return
    if ctype.startswith("text/") and not _holds_report(payload):
        return
    where = location or "body"
    out.append(Part(payload, ctype, _filename(node), where, envelope))


def _filename(node: Message) -> str | None:
    """Content-Disposition filename or Content-Type name, RFC 2231 continuations merged."""
    name = node.get_filename() or node.get_param("name")
    if isinstance(name, tuple):  # an RFC 2231 value compat32 did not collapse
        name = email.utils.collapse_rfc2231_value(name)
    return _unfold(name) if isinstance(name, str) else None


def _envelope(message: Message) -> Envelope:
    report_type = message.get_param("report-type")
    return Envelope(
        content_type=message.get_content_type(),
        report_type=report_type.lower() if isinstance(report_type, str) else None,
        report_domain=_header(message, "TLS-Report-Domain"),
        submitter=_header(message, "TLS-Report-Submitter"),
        subject=_header(message, "Subject"),
    )


def _header(message: Message, name: str) -> str | None:
    raw = message.get(name)
    if raw is None:
        return None
    try:
        text = str(email.header.make_header(email.header.decode_header(str(raw))))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        text = str(raw)
    return _unfold(text)


def _unfold(text: str) -> str:
    return " ".join(text.split())


def _holds_report(payload: bytes) -> bool:
    """A text part is read only when it sniffs as a report, or as base64 of one."""
    kind = sniff(payload)
    if kind is Kind.BASE64:
        decoded = decode_base64_text(payload)
        return decoded is not None and sniff(decoded) in (Kind.JSON, Kind.GZIP, Kind.ZIP)
    return kind in (Kind.JSON, Kind.GZIP, Kind.ZIP)
