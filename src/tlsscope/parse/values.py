"""Small value readers shared by both JSON paths: IP literals, domain names and date-times.

Each is a pure function, cached where values repeat across reports (sending IPs, policy
domains, the day's start and end), because the reader runs them for every failure row.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import ipaddress
import re
from decimal import Decimal
from typing import NamedTuple

import idna

from tlsscope.report import COUNT_MAX

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")


# Counts are exact integers up to COUNT_MAX (RFC 8460 §4.4 sets no bound; a database's 64-bit
# integer does). A string of more digits than that is not parsed at all.
MAX_COUNT_DIGITS = len(str(COUNT_MAX))


class Checked(NamedTuple):
    """A normalised value, and why it differs from the original (None when it does not)."""

    value: str
    problem: str | None


@functools.lru_cache(maxsize=8192)
def check_ip(text: str) -> Checked:
    """RFC 8460 §4.4: IPv4 dotted-decimal, or IPv6 in RFC 5952 text form.

    A valid but non-canonical IPv6 literal is normalised; an invalid one is kept verbatim.
    """
    if _IPV4.fullmatch(text):
        return Checked(text, None)
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return Checked(text, f"{shown(text)} is not an IP address")
    canonical = address.compressed
    if canonical != text:
        return Checked(canonical, f"{text!r} is not in RFC 5952 form; read as {canonical}")
    return Checked(text, None)


_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
_HOST = re.compile(rf"(?=.{{1,253}}\.?$)(?:{_LABEL}\.)*{_LABEL}\.?")


_LDH = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


@functools.lru_cache(maxsize=8192)
def policy_domain_problem(name: str) -> str | None:
    """Why `name` (an A-label name, as check_domain gives it) cannot be a policy domain, or
    None. Stricter than a host name: LDH labels only (no `_`), two labels at least, a last
    label that is not a number (so no IP literal), A-labels that IDNA decodes, 253 octets at
    most (RFC 8460 §3 publishes the record at _smtp._tls.<domain>; RFC 5890 §2.3.2.1)."""
    labels = name.lower().removesuffix(".").split(".")
    if len(name) > 254 or len(labels) < 2:
        return "a domain name has two labels or more, and 253 characters at most"
    for label in labels:
        if not _LDH.fullmatch(label):
            return f"the label {shown(label, 40)} is not letters, digits and inner hyphens"
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except idna.IDNAError:
                return f"the label {shown(label, 40)} is not a valid A-label"
    if labels[-1].isdigit():
        return "the last label is a number (an IP address is not a domain)"
    return None


@functools.lru_cache(maxsize=8192)
def shown(text: str, limit: int = 80) -> str:
    """A value quoted in a message: repr (control, bidi and surrogate characters escaped),
    cut short."""
    more = f" (+{len(text) - limit:,} more characters)" if len(text) > limit else ""
    return repr(text[:limit]) + more


def check_domain(text: str) -> Checked:
    """RFC 8460 §4.4: domains are A-labels. A U-label name is converted; a bad name is kept."""
    if text.isascii():
        if _HOST.fullmatch(text):
            return Checked(text, None)
        return Checked(text, f"{shown(text)} is not a valid domain name")
    try:
        alabel = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        return Checked(text, f"{shown(text)} is not a valid internationalised domain name ({exc})")
    return Checked(alabel, f"U-label domain {text!r} converted to A-label {alabel}")


_DATETIME = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*", re.ASCII
)
# Longer is not a date-time; and the pattern's two optional runs of spaces backtrack
# quadratically on a long one (8 KB of spaces: 0.2 s, 1 MB: most of an hour).
_DATETIME_MAX = 64


class ParsedTime(NamedTuple):
    value: dt.datetime
    problems: tuple[str, ...]


def decode_base64_text(data: bytes) -> bytes | None:
    """Base64 text (a part whose transfer encoding was lost) → bytes, or None if it is not."""
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def parse_datetime(text: str) -> ParsedTime | None:
    """Read an RFC 3339 §5.6 date-time leniently: returns None when it is not a date at all.

    Deviations are reported, not rejected: no offset (read as UTC), a space for `T`, no seconds,
    a date without a time, a leap second (read as :59), more than 6 fraction digits.
    """
    if len(text) > _DATETIME_MAX:
        return None
    match = _DATETIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    problems: list[str] = []
    if hour is None:
        problems.append("has no time of day; read as 00:00:00")
    elif second is None:
        problems.append("has no seconds")
    sec = int(second or 0)
    if sec == 60:
        problems.append("has a leap second; read as :59")
        sec = 59
    micro = 0
    if fraction:
        if len(fraction) > 6:
            problems.append("has more than 6 fraction digits; truncated to microseconds")
        micro = int(fraction[:6].ljust(6, "0"))
    if zone is None:
        problems.append("has no time zone; read as UTC")
        tz: dt.tzinfo = dt.UTC
    elif zone in ("Z", "z", "UTC", "GMT"):
        tz = dt.UTC
    else:
        digits = zone[1:].replace(":", "").ljust(4, "0")
        if int(digits[:2]) > 23 or int(digits[2:]) > 59:
            return None
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        tz = dt.timezone(-offset if zone[0] == "-" else offset)
    try:
        value = dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), sec, micro, tz
        )
    except ValueError:
        return None
    return ParsedTime(value, tuple(problems))


@functools.lru_cache(maxsize=4096)
def format_datetime(value: dt.datetime) -> str:
    """UTC RFC 3339 with `Z`, fractions only when present."""
    value = value.astimezone(dt.UTC)
    text = value.replace(tzinfo=None, microsecond=0).isoformat()
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def as_count(value: object) -> tuple[int | None, str | None]:
    """A session count as an exact int, with a warning for a coerced form, or an error.

    Returns (count, None) for a JSON integer, (count, warning) when the value had to be
    coerced (a string of digits, an integral number with a fraction part or exponent), and
    (None, error) when it cannot be a count (negative, above COUNT_MAX, fractional, boolean,
    other types).
    """
    if type(value) is int:
        if value < 0:
            return None, f"is negative ({_number(value)})"
        return (value, None) if value <= COUNT_MAX else (None, _too_large(_number(value)))
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?[0-9]+", text):
            if len(text.lstrip("+-").lstrip("0")) > MAX_COUNT_DIGITS:
                return None, _too_large(shown(text, 40))
            number = int(text)
            if number < 0:
                return None, f"is negative ({value!r})"
            if number > COUNT_MAX:
                return None, _too_large(repr(value))
            return number, f"is a string ({value!r}); read as the number {number}"
        return None, f"is not a number ({shown(value, 40)})"
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        number_d = Decimal(value)
        if not number_d.is_finite():
            return None, f"is not a finite number ({value})"
        if number_d < 0:
            return None, f"is negative ({_number(number_d)})"
        if number_d.adjusted() >= MAX_COUNT_DIGITS or number_d > COUNT_MAX:
            return None, _too_large(_number(number_d))
        if number_d != number_d.to_integral_value():
            return None, f"is fractional ({value})"
        return int(number_d), f"is written as {value}, not as an integer"
    return None, f"has the wrong type ({type(value).__name__})"


def _too_large(text: str) -> str:
    return (f"is {text}, more than 2^63-1 ({COUNT_MAX:,}), the largest count a database "
            "integer holds")


def _number(value: int | Decimal) -> str:
    """A number as quoted in a message: in full when short, else its size."""
    if isinstance(value, int):
        if value.bit_length() <= 128:
            return str(value)
        return f"a number of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    if abs(value.adjusted()) <= 40:
        return str(value)
    return f"a number of about 10^{value.adjusted():,}"
