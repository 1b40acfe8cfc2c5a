"""One input → an `InputResult`: what it is, the reports it carries, and what is wrong.

The reader recurses through containers (mail → part → gzip → JSON, zip → members, mbox →
messages) deciding each layer by content. Nothing here raises for bad input: every problem
becomes a finding on the input, located by where in the input it was found. Everything the
input inflates to, across its layers, draws on one budget; once it is spent, reading stops.
The result's strings are all storable text (`clean`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from tlsscope.errors import InputError
from tlsscope.notes import Note, error, warning
from tlsscope.parse import crosscheck
from tlsscope.parse.clean import MAX_PATH, bounded, clean, clean_finding
from tlsscope.parse.decompress import Budget, BudgetExceeded, gunzip, unzip
from tlsscope.parse.envelope import Kind, describe, sniff
from tlsscope.parse.json_report import NotAReport, read_json
from tlsscope.parse.mbox import split_mbox
from tlsscope.parse.mime import Envelope, message_parts
from tlsscope.parse.results import InputResult, ReadReport
from tlsscope.parse.values import decode_base64_text
from tlsscope.settings import Settings

RFC_TYPES = {"application/tlsrpt+gzip": Kind.GZIP, "application/tlsrpt+json": Kind.JSON}
GENERIC_TYPES = {
    "application/gzip": Kind.GZIP, "application/x-gzip": Kind.GZIP,
    "application/zip": Kind.ZIP, "application/x-zip-compressed": Kind.ZIP,
    "application/x-zip": Kind.ZIP, "application/tlsrpt+zip": Kind.ZIP,
    "application/json": Kind.JSON, "text/json": Kind.JSON, "application/tlsrpt": Kind.JSON,
    "text/plain": Kind.JSON,
}
_MAX_DEPTH = 6
MAX_NOTES = 100  # "not a report" notes per input; past it, one note counts the rest


@dataclass
class _Layer:
    """Where a blob sits: its location, the type it was declared as, its name, its mail."""

    location: str = ""
    declared: str | None = None
    filename: str | None = None
    envelope: Envelope | None = None
    depth: int = 0

    def inner(self, location: str, **changes: object) -> _Layer:
        where = f"{self.location} {location}".strip() if location else self.location
        layer = _Layer(where, None, self.filename, self.envelope, self.depth + 1)
        for key, value in changes.items():
            setattr(layer, key, value)
        return layer


@dataclass
class _Reading:
    settings: Settings
    result: InputResult
    budget: Budget
    notes: list[Note] = field(default_factory=list)
    more_notes: int = 0


def read_input(data: bytes, source: str, *, settings: Settings | None = None,
               declared_type: str | None = None, filename: str | None = None) -> InputResult:
    """Read one input. Never raises for bad input; see `InputResult.outcome`."""
    settings = settings or Settings()
    reading = _Reading(settings, InputResult(source=clean(source)),
                       Budget(settings.max_total_decompressed_bytes))
    result = reading.result
    if len(data) > reading.settings.max_input_bytes:
        result.errors.append(error("input_too_large", f"input is {len(data):,} bytes, more than "
                                   f"the cap of {reading.settings.max_input_bytes:,}"))
        return result
    declared = declared_type.split(";")[0].strip().lower() if declared_type else None
    if declared_type == "":
        result.warnings.append(warning("missing_media_type", "no media type was declared "
                                       "(RFC 8460 §5.4 asks for application/tlsrpt+gzip or "
                                       "+json)"))
    try:
        result.kind = sniff(data).value
        _blob(reading, data, _Layer(declared=declared, filename=filename))
    except BudgetExceeded as exc:
        result.errors.append(error(exc.code, exc.message, exc.path))
    except Exception as exc:  # loop guard: one input that breaks the reader must not stop a batch
        result.errors.append(error("reader_failure", f"the reader failed on this input "
                                   f"({type(exc).__name__}: {exc}); it is kept for re-reading"))
    if reading.more_notes:  # a mail of 200,000 empty parts made as many warnings
        reading.notes.append(warning("not_a_report", f"not a TLS-RPT report: "
                                     f"{reading.more_notes:,} more parts like these"))
    if not result.reports and not result.errors:
        result.warnings.extend(reading.notes)
    else:  # the input is a report after all; what else it held was passed over
        result.warnings.extend(
            warning("ignored_content", n.message.replace("not a TLS-RPT report: ", "ignored: "),
                    n.path) for n in reading.notes)
    _clean_findings(result)
    return result


def _clean_findings(result: InputResult) -> None:
    """The last guard: findings and locations quote the input (member names, header values,
    JSON keys); none may carry a NUL or a lone surrogate to a store."""
    result.errors = [clean_finding(f) for f in result.errors]
    result.warnings = [clean_finding(f) for f in result.warnings]
    for read in result.reports:
        read.location = clean(bounded(read.location, MAX_PATH))
        read.warnings = [clean_finding(f) for f in read.warnings]


def _blob(reading: _Reading, data: bytes, layer: _Layer) -> None:
    kind = sniff(data)
    before = len(reading.result.reports)
    if layer.depth > _MAX_DEPTH:
        note_on(reading, layer, "nested too deeply; not read")
        return
    try:
        _dispatch(reading, data, kind, layer)
    except BudgetExceeded as exc:  # stops the whole input, where it happened
        exc.path = exc.path or layer.location
        raise
    except InputError as exc:
        where = f"{layer.location} {exc.path}".strip()
        reading.result.errors.append(error(exc.code, exc.message, where))
    if kind is not Kind.BASE64 and (len(reading.result.reports) > before
                                    or kind in (Kind.GZIP, Kind.JSON, Kind.ZIP)):
        _check_declared(reading, kind, layer, found=len(reading.result.reports) > before)


def _dispatch(reading: _Reading, data: bytes, kind: Kind, layer: _Layer) -> None:
    limits = reading.settings
    if kind is Kind.GZIP:
        inflated = gunzip(data, limits.max_decompressed_bytes, reading.budget)
        reading.result.warnings.extend(w.at(layer.location) for w in inflated.warnings)
        _blob(reading, inflated.data, layer.inner("", declared=None))
    elif kind is Kind.ZIP:
        for member in unzip(data, limits.max_decompressed_bytes, limits.max_archive_members,
                            reading.budget):
            _blob(reading, member.data, layer.inner(f"zip:{member.name}", filename=member.name))
    elif kind is Kind.JSON:
        _json(reading, data, layer)
    elif kind is Kind.MAIL:
        _mail(reading, data, layer)
    elif kind is Kind.MBOX:
        for message in split_mbox(io.BytesIO(data), limits.max_input_bytes):
            inner = layer.inner(f"message {message.number}")
            if message.data is None:
                reading.result.errors.append(error(
                    "input_too_large", f"message of {message.size:,} bytes is over the cap",
                    inner.location))
            else:
                _blob(reading, message.data, inner)
    elif kind is Kind.BASE64:
        _base64(reading, data, layer)
    else:
        note_on(reading, layer, describe(data, kind))


def _json(reading: _Reading, data: bytes, layer: _Layer) -> None:
    try:
        outcomes = read_json(data, reading.settings.max_failure_details,
                             reading.settings.max_field_chars)
    except NotAReport as exc:
        note_on(reading, layer, str(exc))
        return
    for outcome in outcomes:
        if isinstance(outcome, ReadReport):
            _accept(reading, outcome, layer)
        else:
            reading.result.errors.extend(f.at(layer.location) for f in outcome)


def _accept(reading: _Reading, read: ReadReport, layer: _Layer) -> None:
    read.location = f"{layer.location} {read.location}".strip()
    if layer.envelope is not None:
        refused = crosscheck.bad_report_domain(layer.envelope)
        if refused is not None:
            reading.result.errors.append(refused.at(layer.location))
            return
        read.warnings.extend(crosscheck.check_envelope(read.report, layer.envelope))
    if layer.filename:
        read.warnings.extend(crosscheck.check_filename(
            read.report, layer.filename, expected=layer.envelope is not None))
    reading.result.reports.append(read)


def _mail(reading: _Reading, data: bytes, layer: _Layer) -> None:
    parts = message_parts(data)
    if not parts:
        note_on(reading, layer, "a mail without a report attachment")
    for part in parts:
        _blob(reading, part.data, layer.inner(
            part.location, declared=part.content_type, filename=part.filename,
            envelope=part.envelope))


def _base64(reading: _Reading, data: bytes, layer: _Layer) -> None:
    decoded = decode_base64_text(data)
    if decoded is not None and sniff(decoded) in (Kind.GZIP, Kind.ZIP, Kind.JSON):
        reading.result.warnings.append(warning(
            "undeclared_base64", "base64 data without a Content-Transfer-Encoding; decoded",
            layer.location))
        _blob(reading, decoded, layer.inner(""))
    else:
        note_on(reading, layer, "base64 text that does not decode to a report")


def _check_declared(reading: _Reading, kind: Kind, layer: _Layer, *, found: bool) -> None:
    declared = layer.declared
    if declared is None:
        return
    expected = RFC_TYPES.get(declared) or GENERIC_TYPES.get(declared)
    if expected is not None and expected is not kind and kind is not Kind.EMPTY:
        reading.result.warnings.append(warning(
            "declared_type_mismatch", f"declared as {declared} but the content is {kind.value}",
            layer.location))
    elif found and declared not in RFC_TYPES:
        reading.result.warnings.append(warning(
            "nonstandard_media_type", f"report sent as {declared}, not application/tlsrpt+gzip "
            "or application/tlsrpt+json (RFC 8460 §5.3, §6.4, §6.5)", layer.location))


def note_on(reading: _Reading, layer: _Layer, what: str) -> None:
    if len(reading.notes) >= MAX_NOTES:
        reading.more_notes += 1
        return
    message = f"not a TLS-RPT report: {what}"
    reading.notes.append(warning("not_a_report", message, layer.location))
