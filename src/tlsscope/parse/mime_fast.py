"""The fast MIME reader: splits well-formed mail itself, and declines anything unusual.

It handles what report senders actually send: ASCII headers with folding, `Content-Type`
parameters (quoted or not), nested multiparts with or without the closing delimiter,
forwarded `message/rfc822` parts, and base64, quoted-printable or 7/8-bit bodies, with LF or
CRLF line ends. It raises `Declined` (and `mime_stdlib` takes over) for RFC 2231 parameters,
non-ASCII header bytes, malformed header lines, padding errors and unknown encodings: rare
cases, where the standard library's leniency matters more than speed.
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Iterator

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

_HEADER_END = re.compile(rb"\r?\n\r?\n")


class Declined(Exception):
    """This mail is not plain enough for the fast reader."""


Headers = dict[str, str]


def message_parts(data: bytes) -> list[Part]:
    out: list[Part] = []
    _message(data, "", out, 0)
    return out


def _message(data: bytes, location: str, out: list[Part], depth: int) -> None:
    headers, body = _split(data)
    _entity(headers, body, location, _envelope(headers), out, depth)


def _entity(headers: Headers, body: bytes, location: str, envelope: Envelope,
            out: list[Part], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise too_deep(location)
    ctype, params = _content_type(headers.get("content-type"))
    if ctype.startswith("multipart/"):
        if ctype == "multipart/digest":
            raise Declined("digest defaults")
        for index, (child_headers, child_body) in enumerate(_split_multipart(body, params), 1):
            _entity(child_headers, child_body, child_location(location, index), envelope,
                    out, depth + 1)
        return
    if ctype in ("message/rfc822", "message/global"):
        if _encoding(headers) not in ("", "7bit", "8bit", "binary"):
            raise Declined("encoded message/rfc822")
        _message(body, f"{location}(forwarded)", out, depth + 1)
        return
    if skipped_type(ctype):
        return
    payload = _decode(body, _encoding(headers))
    if not keep_leaf(ctype, payload):
        return
    _, disposition = _content_type(headers.get("content-disposition"), disposition=True)
    name = disposition.get("filename") or params.get("name")
    out.append(Part(payload, ctype, unfold(name) if name is not None else None,
                    location or "body", envelope))


def _split(data: bytes) -> tuple[Headers, bytes]:
    if data.startswith((b"\n", b"\r\n")):  # no header lines: all defaults (RFC 2046 §5.1)
        return {}, data[1:] if data[:1] == b"\n" else data[2:]
    match = _HEADER_END.search(data)
    head, body = (data[:match.start()], data[match.end():]) if match else (data, b"")
    if not head:
        return {}, body
    if not head.isascii():
        raise Declined("non-ASCII header bytes")
    headers: Headers = {}
    current: str | None = None  # the header continuation lines belong to, if it counts
    for number, line in enumerate(head.decode("ascii").split("\n")):
        line = line.removesuffix("\r")
        if line[:1] in (" ", "\t"):
            if number == 0:
                raise Declined("continuation line without a header")
            if current is not None:
                headers[current] += " " + line.strip()
            continue
        field, colon, value = line.partition(":")
        if not colon or not field or " " in field or not field.isprintable():
            if number == 0 and line.startswith("From "):
                current = None
                continue
            raise Declined("malformed header line")
        name = field.lower()
        if name in headers:  # the first occurrence counts, as with Message.get
            current = None
        else:
            headers[name] = value.strip()
            current = name
    return headers, body


def _content_type(value: str | None, *, disposition: bool = False) -> tuple[str, dict[str, str]]:
    if value is None:
        return ("" if disposition else "text/plain"), {}
    return _parse_content_type(value, disposition)


@functools.lru_cache(maxsize=512)
def _parse_content_type(value: str, disposition: bool) -> tuple[str, dict[str, str]]:
    """Cached: leaf types and file names repeat across mail; callers must not mutate."""
    pieces = _split_params(value)
    main = pieces[0].strip().lower()
    if not disposition and (main.count("/") != 1):
        main = "text/plain"
    params: dict[str, str] = {}
    for piece in pieces[1:]:
        key, equals, raw = piece.partition("=")
        key = key.strip().lower()
        if not key:
            continue
        if "*" in key or not equals:
            raise Declined("RFC 2231 or valueless parameter")
        raw = raw.strip()
        if raw.startswith('"'):
            if len(raw) < 2 or not raw.endswith('"'):
                raise Declined("unterminated quoted parameter")
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1]) if "\\" in raw else raw[1:-1]
        params.setdefault(key, raw)
    return main, params


_PARAM = re.compile(r'(?:[^;"]|"(?:[^"\\]|\\.)*"?)+')


def _split_params(value: str) -> list[str]:
    if '"' not in value:
        return value.split(";")
    return _PARAM.findall(value)


def _split_multipart(body: bytes, params: dict[str, str]) -> list[tuple[Headers, bytes]]:
    boundary = params.get("boundary")
    if not boundary:
        raise Declined("multipart without a boundary")
    delimiters = list(_delimiters(body, b"--" + boundary.encode("ascii")))
    if not delimiters:
        raise Declined("no delimiter line")
    children = []
    for (_, content_start, close), following in zip(
            delimiters, [*delimiters[1:], None], strict=True):
        if close:  # the close delimiter: only the epilogue follows
            break
        end = following[0] if following is not None else len(body)
        children.append(_split(body[content_start:end]))
    return children


def _delimiters(body: bytes, marker: bytes) -> Iterator[tuple[int, int, bool]]:
    """(where the delimiter's line break starts, where the next part starts, is it the close).

    RFC 2046 §5.1.1: a delimiter is `--boundary` at the start of a line, optionally followed
    by `--` (the close) and white space; the line break before it belongs to the delimiter.
    """
    size, find = len(body), body.find
    at = find(marker)
    while at >= 0:
        if at == 0 or body[at - 1] == 0x0A:
            end = at + len(marker)
            close = body[end:end + 2] == b"--"
            if close:
                end += 2
            while end < size and body[end] in (0x20, 0x09):
                end += 1
            if end == size or body[end] in (0x0A, 0x0D):
                if body[end:end + 2] == b"\r\n":
                    end += 2
                elif end < size:
                    end += 1
                start = at - 1 if at else 0
                if start and body[start - 1] == 0x0D:
                    start -= 1
                yield start, end, close
        at = find(marker, at + len(marker))


def _encoding(headers: Headers) -> str:
    return headers.get("content-transfer-encoding", "").strip().lower()


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        try:
            return binascii.a2b_base64(body)
        except binascii.Error:
            raise Declined("base64 padding") from None
    if encoding == "quoted-printable":
        return binascii.a2b_qp(body)
    if encoding in ("", "7bit", "8bit", "binary"):
        return body
    raise Declined(f"transfer encoding {encoding!r}")


def _envelope(headers: Headers) -> Envelope:
    ctype, params = _content_type(headers.get("content-type"))
    report_type = params.get("report-type")
    subject = headers.get("subject")
    if subject is not None and "=?" in subject:
        raise Declined("encoded words in the Subject")
    return Envelope(
        content_type=ctype,
        report_type=report_type.lower() if report_type is not None else None,
        report_domain=_plain(headers.get("tls-report-domain")),
        submitter=_plain(headers.get("tls-report-submitter")),
        subject=_plain(subject),
    )


def _plain(value: str | None) -> str | None:
    return unfold(value) if value is not None else None
