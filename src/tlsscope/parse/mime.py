"""Find the report parts of a mail, forwarded messages included (RFC 8460 §5.3, RFC 6522).

Parts are found by what they hold, not by how a sender labelled them: every application/* leaf
and every unlabelled leaf is a candidate, and text parts are candidates when their content
sniffs as a report. `text/html` parts (Microsoft's human-readable part) are skipped. Each part
remembers the headers of the nearest enclosing message, for the cross-checks.

Two readers give the same parts: `mime_fast` splits well-formed mail itself (the email
package costs about 150 µs a message, more than the whole rest of the reader), and declines
anything unusual (RFC 2231 parameters, non-ASCII headers, odd encodings, malformed header
lines), which then goes to `mime_stdlib`, built on the standard library's tolerant parser.
"""

from __future__ import annotations

from typing import NamedTuple

from tlsscope.errors import InputError
from tlsscope.parse.envelope import Kind, sniff
from tlsscope.parse.values import decode_base64_text

MAX_DEPTH = 20  # multipart and forwarded-message levels; real reports use two or three


def too_deep(location: str = "") -> InputError:
    return InputError(f"the mail nests parts more than {MAX_DEPTH} levels deep; not read",
                      location, code="mime_too_deep")


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
    from tlsscope.parse import mime_fast

    try:
        return mime_fast.message_parts(data)
    except mime_fast.Declined:
        from tlsscope.parse import mime_stdlib

        return mime_stdlib.message_parts(data)


def skipped_type(ctype: str) -> bool:
    """Leaves that never hold a report: media, and Microsoft's human-readable HTML part."""
    return ctype.startswith(("image/", "audio/", "video/")) or ctype == "text/html"


def keep_leaf(ctype: str, payload: bytes) -> bool:
    """A text part is read only when it sniffs as a report, or as base64 of one."""
    if not ctype.startswith("text/"):
        return True
    kind = sniff(payload)
    if kind is Kind.BASE64:
        decoded = decode_base64_text(payload)
        return decoded is not None and sniff(decoded) in (Kind.JSON, Kind.GZIP, Kind.ZIP)
    return kind in (Kind.JSON, Kind.GZIP, Kind.ZIP)


def child_location(location: str, index: int) -> str:
    return f"{location}.{index}" if location else f"part {index}"


def unfold(text: str) -> str:
    return " ".join(text.split())
