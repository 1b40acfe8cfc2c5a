"""The tolerant path: a decoded JSON value → a clean dict the `Report` struct accepts.

The fast path (`json_report`) decodes well-formed reports straight into the model. Anything
else comes here: unknown members (kept as extras), draft-era and placeholder key names, `null`s,
counts written as strings, `mx-host` as a string, dates in odd forms. Each deviation becomes a
warning that names its JSON path; each thing that cannot be a report becomes an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from tlsscope.notes import Note, error, warning
from tlsscope.parse.values import as_count, parse_datetime, shown

# Per object: canonical key → required?  (RFC 8460 §4.4; "required" = absence rejects)
_TOP = {"organization-name": True, "date-range": True, "contact-info": False,
        "report-id": True, "policies": True}
_RANGE = {"start-datetime": True, "end-datetime": True}
_ENTRY = {"policy": True, "summary": True, "failure-details": False}
_POLICY = {"policy-type": True, "policy-string": False, "policy-domain": False, "mx-host": False}
_SUMMARY = {"total-successful-session-count": True, "total-failure-session-count": True}
_DETAIL = {"result-type": False, "sending-mta-ip": False, "receiving-mx-hostname": False,
           "receiving-mx-helo": False, "receiving-ip": False, "failed-session-count": False,
           "additional-information": False, "failure-reason-code": False}

# Names that are not RFC 8460 keys but mean one: the §4.4 placeholders, draft-era names, typos.
_ALIASES = {
    "email-address": "contact-info",
    "start-date-time": "start-datetime",
    "end-date-time": "end-datetime",
    "domain": "policy-domain",
    "mx-host-pattern": "mx-host",
    "success-count": "total-successful-session-count",
    "success-aggregate": "total-successful-session-count",
    "total-success-session-count": "total-successful-session-count",
    "failure-count": "total-failure-session-count",
    "failure-aggregate": "total-failure-session-count",
    "total-failed-session-count": "total-failure-session-count",
    "ip-address": "sending-mta-ip",
    "receiving-mx-host-name": "receiving-mx-hostname",
    "receiving-mta-hostname": "receiving-mx-hostname",
    "additional-info-uri": "additional-information",
    "failure-error-code": "failure-reason-code",
    "failure-reason": "failure-reason-code",
    "session-count": "failed-session-count",
}

TOP_LEVEL_KEYS = frozenset(_TOP) | {"policy"}
_REQUIRED = {id(known): frozenset(name for name, required in known.items() if required)
             for known in (_TOP, _RANGE, _ENTRY, _POLICY, _SUMMARY, _DETAIL)}


class Collector:
    """Findings, extras and original values gathered while reading one report."""

    __slots__ = ("errors", "extras", "max_chars", "max_rows", "originals", "warnings")

    def __init__(self, max_rows: int = 10_000, max_chars: int = 65_536) -> None:
        self.errors: list[Note] = []
        self.warnings: list[Note] = []
        self.extras: dict[str, dict[str, Any]] = {}
        self.originals: dict[str, Any] = {}
        self.max_rows = max_rows  # failure-details rows (and policies) one report may have
        self.max_chars = max_chars  # the longest string one report may hold (parse/lengths.py)

    def warn(self, code: str, message: str, path: str) -> None:
        self.warnings.append(warning(code, message, path))

    def fail(self, code: str, message: str, path: str) -> None:
        self.errors.append(error(code, message, path))


def too_many_rows(what: str, count: int, limit: int, path: str) -> Note:
    return error("too_many_rows", f"the report has {count:,} {what}, more than "
                 f"max_failure_details ({limit:,}); not read", path)


def looks_like_report(value: Any) -> bool:
    """Is this decoded JSON meant to be a TLS-RPT report (has one of its top-level members)?"""
    return isinstance(value, dict) and any(_canonical(k) in TOP_LEVEL_KEYS for k in value)


def _canonical(key: str) -> str:
    return key.strip().lower().replace("_", "-")


def _members(obj: dict[str, Any], known: dict[str, bool], path: str, c: Collector,
             ) -> dict[str, Any]:
    """Map an object's keys onto `known`: aliases renamed, unknown members set aside."""
    if known.keys() >= obj.keys():  # the usual case: only RFC keys; no renaming to do
        if None in obj.values():
            for name in [name for name, value in obj.items() if value is None]:
                del obj[name]
        for name in _REQUIRED[id(known)] - obj.keys():
            c.fail("missing_member", f"required member {name!r} is missing", f"{path}.{name}")
        return obj
    out: dict[str, Any] = {}
    renamed: list[tuple[str, str]] = []
    for key, value in obj.items():
        if key in known:
            out[key] = value
            continue
        name = _canonical(key)
        name = _ALIASES.get(name, name)
        if name in known:
            renamed.append((key, name))
        else:
            c.extras.setdefault(path, {})[key] = value
            c.warn("unknown_member", f"unknown member {shown(key)} kept as an extra",
                   f"{path}.{key}")
    for key, name in renamed:
        if name in out:
            c.extras.setdefault(path, {})[key] = obj[key]
            c.warn("alias_ignored", f"{shown(key)} ignored: {name!r} is also present",
                   f"{path}.{key}")
        else:
            out[name] = obj[key]
            c.warn("nonstandard_name", f"member {shown(key)} read as {name!r}", f"{path}.{key}")
    for name, required in known.items():
        value = out.get(name)
        if value is None:
            out.pop(name, None)
            if required:
                c.fail("missing_member", f"required member {name!r} is missing", f"{path}.{name}")
    return out


def normalise_report(obj: dict[str, Any], c: Collector) -> dict[str, Any]:
    """The whole report. Errors are collected in `c`; the result is only valid without them."""
    if "policies" not in obj and "policy" in obj:
        c.warn("draft_single_policy", "draft-era single 'policy' object read as 'policies'", "$")
        single = {k: obj.pop(k) for k in ("policy", "summary", "failure-details") if k in obj}
        obj = {**obj, "policies": [single]}
    out = _members(obj, _TOP, "$", c)
    for name in ("organization-name", "report-id", "contact-info"):
        _string(out, name, "$", c, required=name != "contact-info")
    if "date-range" in out:
        out["date-range"] = _date_range(out["date-range"], "$.date-range", c)
    if "policies" in out:
        entries = _as_list(out, "policies", "$", c, required=True)
        rows = sum(len(v) for e in entries if isinstance(e, dict) for k, v in e.items()
                   if isinstance(v, list) and _canonical(k) == "failure-details")
        for what, count in (("policies", len(entries)), ("failure-details rows", rows)):
            if count > c.max_rows:  # refused before any of them is looked at
                c.errors.append(too_many_rows(what, count, c.max_rows, "$.policies"))
                return out
        out["policies"] = [_entry(e, f"$.policies[{i}]", c) for i, e in enumerate(entries)]
    return out


def _object(value: Any, known: dict[str, bool], path: str, c: Collector, what: str = "",
            ) -> dict[str, Any] | None:
    """An object's members mapped onto `known`, or None (and an error) for a non-object."""
    if not isinstance(value, dict):
        c.fail("wrong_type", f"{what}must be an object, not {_kind(value)}", path)
        return None
    return _members(value, known, path, c)


def _date_range(value: Any, path: str, c: Collector) -> Any:
    out = _object(value, _RANGE, path, c)
    if out is None:
        return value
    for name in _RANGE:
        if name in out:
            out[name] = _datetime(out[name], f"{path}.{name}", c)
    return out


def _datetime(value: Any, path: str, c: Collector) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**34:
        c.warn("date_epoch", f"Unix time {value} read as a date-time", path)
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if not isinstance(value, str):
        c.fail("wrong_type", f"must be an RFC 3339 date-time string, not {_kind(value)}", path)
        return value
    parsed = parse_datetime(value)
    if parsed is None:
        c.fail("invalid_datetime", f"{shown(value)} is not an RFC 3339 date-time", path)
        return value
    for problem in parsed.problems:
        c.warn("date_format", f"{value!r} {problem}", path)
    return parsed.value


def _entry(value: Any, path: str, c: Collector) -> Any:
    out = _object(value, _ENTRY, path, c, "a policies entry ")
    if out is None:
        return value
    if "policy" in out:
        policy = _object(out["policy"], _POLICY, f"{path}.policy", c)
        out["policy"] = out["policy"] if policy is None else _policy(policy, f"{path}.policy", c)
    if "summary" in out:
        summary = _object(out["summary"], _SUMMARY, f"{path}.summary", c)
        if summary is not None:
            for name in _SUMMARY:
                if name in summary:
                    _count(summary, name, f"{path}.summary", c)
            out["summary"] = summary
    if "failure-details" in out:
        rows = _as_list(out, "failure-details", path, c, required=False)
        out["failure-details"] = [
            _detail(row, f"{path}.failure-details[{i}]", c) for i, row in enumerate(rows)
        ]
    return out


def _policy(out: dict[str, Any], path: str, c: Collector) -> dict[str, Any]:
    _string(out, "policy-type", path, c, required=True)
    _string(out, "policy-domain", path, c, required=False)
    for name in ("policy-string", "mx-host"):
        if name in out:
            out[name] = _string_list(out[name], f"{path}.{name}", c)
    return out


def _detail(value: Any, path: str, c: Collector) -> Any:
    out = _object(value, _DETAIL, path, c, "a failure-details row ")
    if out is None:
        return value
    if isinstance(out.get("receiving-mx-helo"), list):
        lines = out["receiving-mx-helo"]
        if all(isinstance(line, str) for line in lines):
            c.warn("helo_list", "receiving-mx-helo given as a list; joined by new lines",
                   f"{path}.receiving-mx-helo")
            out["receiving-mx-helo"] = "\n".join(lines)
    for name in [n for n, v in out.items() if not isinstance(v, str)]:  # usually none
        if name != "failed-session-count":
            _string(out, name, path, c, required=False)
    if "failed-session-count" in out:
        _count(out, "failed-session-count", path, c)
    return out


def _string(out: dict[str, Any], name: str, path: str, c: Collector, *, required: bool) -> None:
    value = out.get(name)
    if value is None or isinstance(value, str):
        return
    where = f"{path}.{name}"
    if (isinstance(value, int | float) and not isinstance(value, bool)) or _is_decimal(value):
        c.warn("coerced_to_string", f"number {value} read as the string '{value}'", where)
        out[name] = str(value)
    elif required:
        c.fail("wrong_type", f"must be a string, not {_kind(value)}", where)
    else:
        c.extras.setdefault(path, {})[name] = out.pop(name)
        c.warn("wrong_type_ignored", f"must be a string, not {_kind(value)}; kept aside", where)


class NeedExactNumbers(Exception):
    """A count was decoded as a binary float: decode again with exact decimals."""


def _count(out: dict[str, Any], name: str, path: str, c: Collector) -> None:
    where = f"{path}.{name}"
    if type(out[name]) is float:
        raise NeedExactNumbers
    count, problem = as_count(out[name])
    if count is None:
        c.fail("invalid_count", f"session count {problem}", where)
    elif problem is not None:
        c.originals[where] = out[name] if isinstance(out[name], str) else str(out[name])
        c.warn("coerced_count", f"session count {problem}", where)
        out[name] = count


def _string_list(value: Any, path: str, c: Collector) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            items = [item.strip().strip("'\"") for item in text[1:-1].split(",")]
            c.warn("stringified_list", f"a list written as the string {shown(value)}", path)
            return [item for item in items if item]
        c.warn("string_not_list", "a single string where the RFC has a list", path)
        return [value]
    if isinstance(value, list):
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            elif item is None:
                c.warn("null_in_list", "null list element skipped", f"{path}[{i}]")
            else:
                c.warn("coerced_to_string", f"{_kind(item)} element read as text", f"{path}[{i}]")
                out.append(str(item))
        return out
    c.fail("wrong_type", f"must be a list of strings, not {_kind(value)}", path)
    return value


def _as_list(out: dict[str, Any], name: str, path: str, c: Collector, *, required: bool,
             ) -> list[Any]:
    value = out[name]
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        c.warn("object_not_list", f"{name!r} is a single object; read as a list of one",
               f"{path}.{name}")
        return [value]
    fail: Callable[[str, str, str], None] = c.fail if required else c.warn
    fail("wrong_type", f"must be a list, not {_kind(value)}", f"{path}.{name}")
    if not required:
        c.extras.setdefault(path, {})[name] = out.pop(name)
    return []


def _is_decimal(value: Any) -> bool:
    return type(value).__name__ == "Decimal"


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")
