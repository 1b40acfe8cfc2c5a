"""Read the `policy-string` lines of a report: MTA-STS policy lines and TLSA records.

Pure functions over tuples of strings, cached, because the same policy text repeats in every
report of a domain. Problems are returned as (code, message) pairs rather than raised: a report
is never rejected for the policy it quotes (RFC 8460 §4.5 asks reporters to quote the policy
"including any errors").
"""

from __future__ import annotations

import functools
import json
import re
from typing import NamedTuple

STS_MAX_AGE_LIMIT = 31_557_600  # RFC 8461 §3.2: max_age is at most about one year
STS_MODES = frozenset({"enforce", "testing", "none"})
_HEX = re.compile(r"[0-9A-Fa-f]+")
_SECONDS = re.compile(r"[0-9]{1,10}")  # ASCII digits: str.isdigit() also takes '²' and '٣'
_FIELD = re.compile(r"[0-9]{1,3}")  # a TLSA usage, selector or matching type (0 to 255)


def _shown(text: str, limit: int = 80) -> str:
    """A value quoted in a problem: repr, cut short (a policy line can be megabytes)."""
    return repr(text[:limit]) + (f" (+{len(text) - limit:,} more characters)"
                                 if len(text) > limit else "")


class StsPolicy(NamedTuple):
    """An MTA-STS policy (RFC 8461 §3.2) as quoted in a report."""

    version: str | None
    mode: str | None
    max_age: int | None
    mx_patterns: tuple[str, ...]
    problems: tuple[tuple[str, str], ...]


class TlsaRecord(NamedTuple):
    """One TLSA record in presentation form (RFC 6698 §2.2)."""

    usage: int
    selector: int
    matching_type: int
    data: str

    def __str__(self) -> str:
        return f"{self.usage} {self.selector} {self.matching_type} {self.data}"


class TlsaStrings(NamedTuple):
    records: tuple[TlsaRecord, ...]
    problems: tuple[tuple[str, str], ...]


def _split_lines(lines: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for element in lines:
        out.extend(part for part in re.split(r"\r\n|\r|\n", element) if part.strip())
    return out


@functools.lru_cache(maxsize=1024)
def parse_sts_lines(lines: tuple[str, ...]) -> StsPolicy:
    """Read MTA-STS policy lines in any order, tolerating spacing and case deviations."""
    problems: list[tuple[str, str]] = []
    fields: dict[str, str] = {}
    mx: list[str] = []
    if any("\n" in element or "\r" in element for element in lines):
        problems.append(("sts_policy_multiline", "policy-string elements hold several lines"))
    for line in _split_lines(lines):
        key, sep, value = line.partition(":")
        if not sep:
            problems.append(("sts_policy_line", f"policy line without ':' ignored: {_shown(line)}"))
            continue
        name, value = key.strip(), value.strip()
        if name != name.lower():
            problems.append(("sts_policy_key_case",
                             f"policy key {_shown(name)} is not lower case"))
            name = name.lower()
        if name == "mx":
            mx.append(value.lower())
        elif name in fields:
            problems.append(("sts_policy_repeated",
                             f"{_shown(name)} repeated; the first one counts"))
        elif name in ("version", "mode", "max_age"):
            fields[name] = value
    version, mode = fields.get("version"), fields.get("mode")
    if version is None:
        problems.append(("sts_policy_missing", "policy has no 'version' line"))
    elif version != "STSv1":
        problems.append(("sts_policy_version", f"policy version {_shown(version)} is not STSv1"))
    if mode is None:
        problems.append(("sts_policy_missing", "policy has no 'mode' line"))
    elif mode not in STS_MODES:
        problems.append(("sts_policy_mode",
                         f"policy mode {_shown(mode)} is not enforce/testing/none"))
    max_age = _max_age(fields.get("max_age"), problems)
    if not mx and mode in ("enforce", "testing"):
        problems.append(("sts_policy_no_mx", f"policy in {mode} mode lists no 'mx' pattern"))
    for pattern in mx:
        if not _valid_mx_pattern(pattern):
            problems.append(("sts_policy_mx_pattern", f"mx pattern {_shown(pattern)} is not valid"))
    return StsPolicy(version, mode, max_age, tuple(mx), tuple(problems))


def _max_age(raw: str | None, problems: list[tuple[str, str]]) -> int | None:
    if raw is None:
        problems.append(("sts_policy_missing", "policy has no 'max_age' line"))
        return None
    if not _SECONDS.fullmatch(raw):
        problems.append(("sts_policy_max_age", f"max_age {_shown(raw)} is not a number of "
                         "seconds"))
        return None
    value = int(raw)
    if value > STS_MAX_AGE_LIMIT:
        problems.append(("sts_policy_max_age", f"max_age {value} exceeds {STS_MAX_AGE_LIMIT}"))
    return value


_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")



def _valid_mx_pattern(pattern: str) -> bool:
    """RFC 8461 §3.2/§4.1: a host name, or `*.` followed by one; A-labels only."""
    labels = pattern.removeprefix("*.").rstrip(".").split(".")
    return len(labels) >= 1 and all(_LABEL.fullmatch(label) for label in labels)


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 §4.1: `*` stands for exactly one whole left-most label; case-insensitive."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return host == pattern


@functools.lru_cache(maxsize=1024)
def parse_tlsa_strings(strings: tuple[str, ...]) -> TlsaStrings:
    """Read TLSA records: one per element (RFC 8460 §4.5), or Microsoft's JSON array string."""
    problems: list[tuple[str, str]] = []
    texts: list[str] = []
    for element in strings:
        stripped = element.strip()
        if stripped.startswith("["):
            try:
                inner = json.loads(stripped)
            except ValueError:
                inner = None
            except RecursionError:
                problems.append(("tlsa_json_too_deep", "a policy-string element holds JSON "
                                 "nested too deeply to read; not read as TLSA records"))
                continue
            if isinstance(inner, list) and all(isinstance(item, str) for item in inner):
                problems.append((
                    "tlsa_json_array_string",
                    f"one policy-string element holds a JSON array of {len(inner)} TLSA records",
                ))
                texts.extend(inner)
                continue
        if ";" in stripped:
            problems.append(("tlsa_semicolon_list", "TLSA records joined with ';' in one string"))
            texts.extend(part for part in stripped.split(";") if part.strip())
            continue
        texts.append(stripped)
    records: list[TlsaRecord] = []
    for text in texts:
        record = _tlsa_record(text)
        if record is None:
            problems.append(("tlsa_record_invalid", f"not a TLSA record: {_shown(text)}"))
        else:
            records.append(record)
    return TlsaStrings(tuple(records), tuple(problems))


def _tlsa_record(text: str) -> TlsaRecord | None:
    parts = text.replace("(", " ").replace(")", " ").split()
    if len(parts) < 4 or not all(_FIELD.fullmatch(p) for p in parts[:3]):
        return None
    usage, selector, mtype = (int(p) for p in parts[:3])
    data = "".join(parts[3:])
    if usage > 255 or selector > 255 or mtype > 255 or not _HEX.fullmatch(data):
        return None
    return TlsaRecord(usage, selector, mtype, data.upper())
