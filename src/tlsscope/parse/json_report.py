"""RFC 8460 JSON bytes → `Report`s, with findings that name their JSON path.

Two paths, one result. The fast path decodes a well-formed report straight into the model
with msgspec (strict types, unknown members refused). When it declines, for whatever reason,
the tolerant path decodes with the standard library (exact integers, decimal fractions,
positions in syntax errors), repairs what it can (`lenient`) and converts. Both then run the
same checks (`validate`).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import msgspec

from tlsscope.errors import ReportError
from tlsscope.findings import Finding, error
from tlsscope.parse.lenient import (
    Collector,
    NeedExactNumbers,
    looks_like_report,
    normalise_report,
)
from tlsscope.parse.results import ReadReport
from tlsscope.parse.validate import validate
from tlsscope.report import Report

_DECODER = msgspec.json.Decoder(Report)
_BOM = b"\xef\xbb\xbf"


class NotAReport(Exception):
    """Valid JSON, but not a TLS-RPT report; the message says what it looks like."""


Rejection = list[Finding]


def read_json(data: bytes) -> list[ReadReport | Rejection]:
    """Read one JSON document: a report, or (tolerated) an array of reports.

    Raises `ReportError` when the bytes are not JSON, `NotAReport` when the JSON is not a
    report. A report with errors comes back as a `Rejection` (its error findings).
    """
    head: list[Finding] = []
    if data.startswith(_BOM):
        data = data[3:]
        head.append(Finding("utf8_bom", "JSON starts with a UTF-8 byte order mark (RFC 8259 §8.1)"))
    try:
        report = _DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return _tolerant(data, head)
    c = Collector()
    c.warnings.extend(head)
    validate(report, c)
    if c.errors:  # validate's errors (a policy-domain that is not a domain name)
        return [c.errors]
    return [ReadReport(report=report, warnings=c.warnings, originals=c.originals)]


def _tolerant(data: bytes, head: list[Finding]) -> list[ReadReport | Rejection]:
    # msgspec decodes plain JSON twice as fast as the standard library. Anything it refuses
    # (bad JSON, other encodings, NaN), the standard library explains with a position; and a
    # count written with a fraction or exponent is decoded again there, as an exact decimal.
    try:
        return _tolerant_value(msgspec.json.decode(data), list(head))
    except (msgspec.DecodeError, UnicodeDecodeError, NeedExactNumbers):
        return _tolerant_value(_decode_stdlib(data, head), head)


def _tolerant_value(value: Any, head: list[Finding]) -> list[ReadReport | Rejection]:
    if isinstance(value, list):
        if not value or not all(looks_like_report(item) for item in value):
            raise NotAReport(_describe(value))
        head.append(Finding("report_array", f"a JSON array of {len(value)} reports"))
        out: list[ReadReport | Rejection] = []
        for i, item in enumerate(value):
            for result in _one(item, head):
                if isinstance(result, ReadReport):
                    result.location = f"[{i}]"
                out.append(result)
        return out
    if not looks_like_report(value):
        raise NotAReport(_describe(value))
    return _one(value, head)


def _one(value: dict[str, Any], head: list[Finding]) -> list[ReadReport | Rejection]:
    c = Collector()
    c.warnings.extend(head)
    clean = normalise_report(value, c)
    if not c.errors:
        try:
            report = msgspec.convert(clean, Report)
        except msgspec.ValidationError as exc:
            text, _, where = str(exc).partition(" - at `")
            c.fail("wrong_type", text, where.rstrip("`") or "$")
        else:
            validate(report, c)
            if c.errors:
                return [c.errors]
            return [ReadReport(report=report, warnings=c.warnings, extras=c.extras,
                               originals=c.originals)]
    return [c.errors]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON (RFC 8259 §6)")


def _decode_stdlib(data: bytes, head: list[Finding]) -> Any:
    encoding = json.detect_encoding(data)
    if encoding != "utf-8":
        head.append(Finding("not_utf8", f"JSON encoded as {encoding}, not UTF-8 (RFC 8259 §8.1)"))
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ReportError(f"not valid {encoding.upper()} text: {exc.reason}",
                          f"byte {exc.start}", code="invalid_encoding") from None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ReportError(f"invalid JSON: {exc.msg}",
                          f"line {exc.lineno} column {exc.colno} (char {exc.pos})",
                          code="invalid_json") from None
    except ValueError as exc:  # NaN / Infinity, or a number too long to read
        found = re.search(r"(?<![\w\"])(?:-?Infinity|NaN)(?![\w\"])", text)
        where = _position(text, found.start()) if found else ""
        raise ReportError(f"invalid JSON: {exc}", where, code="invalid_json") from None
    except RecursionError:
        raise ReportError("invalid JSON: nested too deeply", code="invalid_json") from None


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line} column {column} (char {offset})"


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(sorted(map(str, value))[:6]) or "no members"
        if "feedback" in value or "report_metadata" in value:
            return f"JSON that looks like a DMARC aggregate report (members: {keys})"
        return f"JSON object without TLS-RPT members (members: {keys})"
    if isinstance(value, list):
        return f"a JSON array of {len(value)} items that are not TLS-RPT reports"
    return f"a JSON {type(value).__name__}, not a TLS-RPT report object"


def rejection(exc: ReportError) -> Finding:
    return error(exc.code, exc.message, exc.path)
