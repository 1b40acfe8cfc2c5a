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
from tlsscope.notes import Note, error
from tlsscope.parse.clean import Scrubbed, scrub, suspect
from tlsscope.parse.lengths import check_extras
from tlsscope.parse.lenient import (
    Collector,
    NeedExactNumbers,
    looks_like_report,
    normalise_report,
    too_many_rows,
)
from tlsscope.parse.results import ReadReport
from tlsscope.parse.validate import validate
from tlsscope.parse.values import shown
from tlsscope.report import Report

_DECODER = msgspec.json.Decoder(Report)
_BOM = b"\xef\xbb\xbf"
MAX_JSON_DEPTH = 64  # a report is 6 levels deep; extras rarely add more than a few
DEFAULT_MAX_ROWS = 10_000  # Settings.max_failure_details
DEFAULT_MAX_CHARS = 65_536  # Settings.max_field_chars
_INT_DIGITS = 4300  # Python reads longer integers only with sys.set_int_max_str_digits


class NotAReport(Exception):
    """Valid JSON, but not a TLS-RPT report; the message says what it looks like."""


Rejection = list[Note]


def read_json(data: bytes, max_rows: int = DEFAULT_MAX_ROWS,
              max_chars: int = DEFAULT_MAX_CHARS) -> list[ReadReport | Rejection]:
    """Read one JSON document: a report, or (tolerated) an array of reports.

    Raises `ReportError` when the bytes are not JSON, `NotAReport` when the JSON is not a
    report. A report with errors comes back as a `Rejection` (its error findings); so does one
    with more than `max_rows` failure-details rows (or policies), or a string longer than
    `max_chars`.
    """
    limits = (max_rows, max_chars)
    head: list[Note] = []
    if data.startswith(_BOM):
        data = data[3:]
        head.append(Note("utf8_bom", "JSON starts with a UTF-8 byte order mark (RFC 8259 §8.1)"))
    if suspect(data):  # strings with NUL or lone surrogates: cleaned on the tolerant path
        return _tolerant(data, head, limits)
    try:
        report = _DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return _tolerant(data, head, limits)
    too_many = _too_many_rows([len(entry.details) for entry in report.policies], max_rows)
    if too_many is not None:
        return [[too_many]]
    c = Collector(max_rows, max_chars)
    c.warnings.extend(head)
    validate(report, c)
    if c.errors:  # validate's errors (a policy-domain that is not a domain name)
        return [c.errors]
    return [ReadReport(report=report, warnings=c.warnings, originals=c.originals)]


def _too_many_rows(rows: list[int], limit: int) -> Note | None:
    """Over `limit` failure-details rows (or policies) in one report: refused before any of
    them is looked at (1,000,000 empty rows fit in a 3.3 KB gzip)."""
    if len(rows) > limit:
        return too_many_rows("policies", len(rows), limit, "$.policies")
    if sum(rows) > limit:
        return too_many_rows("failure-details rows", sum(rows), limit, "$.policies")
    return None


def _tolerant(data: bytes, head: list[Note], limits: tuple[int, int],
              ) -> list[ReadReport | Rejection]:
    # msgspec decodes plain JSON twice as fast as the standard library. Anything it refuses
    # (bad JSON, other encodings, NaN, numbers out of range), the standard library explains
    # with a position; and a count written with a fraction or exponent is decoded again there,
    # as an exact decimal.
    dirty = suspect(data)
    try:
        value = msgspec.json.decode(data)
    except RecursionError:
        raise _too_deep() from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        value = None
    else:
        _check_depth(data, value)
        try:
            return _tolerant_value(value, list(head), limits, dirty)
        except NeedExactNumbers:
            pass
    value = _decode_stdlib(data, head)
    _check_depth(data, value)
    return _tolerant_value(value, head, limits, dirty)


def _too_deep(path: str = "") -> ReportError:
    return ReportError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep; not read",
                       path, code="json_too_deep")


def _check_depth(data: bytes, value: Any) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH (every later step may recurse on it)."""
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:
        return  # cannot be that deep
    level = [value] if type(value) is dict or type(value) is list else []
    for _ in range(MAX_JSON_DEPTH):  # one level at a time, in comprehensions: fast
        level = [item for node in level
                 for item in (node.values() if type(node) is dict else node)
                 if type(item) is dict or type(item) is list]
        if not level:
            return
    raise _too_deep(_deep_path(value))


def _deep_path(value: Any) -> str:
    """Where the JSON first passes MAX_JSON_DEPTH (only asked once it is known to)."""
    stack: list[tuple[Any, str, int]] = [(value, "$", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth == MAX_JSON_DEPTH:
            return path
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}",
                      depth + 1) for key, item in items if isinstance(item, dict | list))
    return ""


def _tolerant_value(value: Any, head: list[Note], limits: tuple[int, int], dirty: bool,
                    ) -> list[ReadReport | Rejection]:
    if isinstance(value, list):
        if not value or not all(looks_like_report(item) for item in value):
            raise NotAReport(_describe(value))
        head.append(Note("report_array", f"a JSON array of {len(value)} reports"))
        out: list[ReadReport | Rejection] = []
        for i, item in enumerate(value):
            for result in _one(item, head, limits, dirty):
                if isinstance(result, ReadReport):
                    result.location = f"[{i}]"
                out.append(result)
        return out
    if not looks_like_report(value):
        raise NotAReport(_describe(value))
    return _one(value, head, limits, dirty)


def _one(value: dict[str, Any], head: list[Note], limits: tuple[int, int], dirty: bool,
         ) -> list[ReadReport | Rejection]:
    c = Collector(*limits)
    c.warnings.extend(head)
    if dirty:  # some string may hold NUL or a lone surrogate: clean them all, first
        found = Scrubbed()
        value = scrub(value, "$", found)
        for path, what in found.places:
            c.warn("text_replaced", what, path)
        if found.count > len(found.places):
            c.warn("text_replaced", f"{found.count - len(found.places):,} more strings had "
                   "characters replaced by U+FFFD", "$")
    clean = normalise_report(value, c)
    if c.extras:
        check_extras(c)
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


def _decode_stdlib(data: bytes, head: list[Note]) -> Any:
    encoding = json.detect_encoding(data)
    if encoding != "utf-8":
        head.append(Note("not_utf8", f"JSON encoded as {encoding}, not UTF-8 (RFC 8259 §8.1)"))
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ReportError(f"not valid {encoding.upper()} text: {exc.reason}",
                          f"byte {exc.start}", code="invalid_encoding") from None
    try:
        return json.loads(text, parse_float=_decimal, parse_int=_int,
                          parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ReportError(f"invalid JSON: {exc.msg}",
                          f"line {exc.lineno} column {exc.colno} (char {exc.pos})",
                          code="invalid_json") from None
    except _BadNumber as exc:
        at = text.find(exc.literal)
        raise ReportError(f"the number {shown(exc.literal, 40)} is too large (or too long) "
                          "to be read", _position(text, at) if at >= 0 else "",
                          code="number_out_of_range") from None
    except ValueError as exc:  # NaN / Infinity
        found = re.search(r"(?<![\w\"])(?:-?Infinity|NaN)(?![\w\"])", text)
        where = _position(text, found.start()) if found else ""
        raise ReportError(f"invalid JSON: {exc}", where, code="invalid_json") from None
    except RecursionError:
        raise _too_deep() from None


class _BadNumber(Exception):
    def __init__(self, literal: str) -> None:
        super().__init__(literal)
        self.literal = literal


def _decimal(literal: str) -> Decimal:
    try:
        return Decimal(literal)
    except ArithmeticError:  # an exponent past what the decimal module holds
        raise _BadNumber(literal) from None


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > _INT_DIGITS:
        raise _BadNumber(literal)
    return int(literal)


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


def rejection(exc: ReportError) -> Note:
    return error(exc.code, exc.message, exc.path)
