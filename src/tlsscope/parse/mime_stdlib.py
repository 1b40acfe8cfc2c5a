"""The tolerant MIME reader, on the standard library's email parser (compat32).

Used for mail the fast reader declines. Slower, but it reads almost anything: broken
base64, RFC 2231 continuations, encoded words, malformed header lines.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.utils
from email.message import Message
from email.policy import compat32

from tlsscope.parse.mime import (
    MAX_DEPTH,
    Envelope,
    Part,
    child_location,
    keep_leaf,
    skipped_type,
    too_deep,
    unfold,
)


def message_parts(data: bytes) -> list[Part]:
    try:  # the parser recurses once per forwarded message
        message = email.message_from_bytes(data, policy=compat32)
    except RecursionError:
        raise too_deep() from None
    parts: list[Part] = []
    _walk(message, _envelope(message), "", parts, 0)
    return parts


def _walk(node: Message, envelope: Envelope, location: str, out: list[Part],
          depth: int) -> None:
    if depth > MAX_DEPTH:
        raise too_deep(location)
    ctype = node.get_content_type()
    if node.is_multipart():
        children = node.get_payload()
        if not isinstance(children, list):
            return
        if ctype == "message/rfc822" or ctype == "message/global":
            for child in children:
                if isinstance(child, Message):
                    _walk(child, _envelope(child), f"{location}(forwarded)", out, depth + 1)
            return
        for index, child in enumerate(children, 1):
            if isinstance(child, Message):
                _walk(child, envelope, child_location(location, index), out, depth + 1)
        return
    if skipped_type(ctype):
        return
    payload = node.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return
    if not keep_leaf(ctype, payload):
        return
    where = location or "body"
    out.append(Part(payload, ctype, _filename(node), where, envelope))


def _filename(node: Message) -> str | None:
    """Content-Disposition filename or Content-Type name, RFC 2231 continuations merged."""
    name = node.get_filename() or node.get_param("name")
    if isinstance(name, tuple):  # an RFC 2231 value compat32 did not collapse
        name = email.utils.collapse_rfc2231_value(name)
    return unfold(name) if isinstance(name, str) else None


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
    return unfold(text)

