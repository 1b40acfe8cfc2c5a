"""DNS records and policy files, generated and validated: pure functions over text.

    check("v=TLSRPTv1; rua=mailto:tls@example.com")  → RecordCheck (kind "tlsrpt")
    check("v=STSv1; id=20260301T120000;")            → RecordCheck (kind "mta-sts-record")
    check("version: STSv1\\nmode: testing\\n...")    → RecordCheck (kind "mta-sts-policy")
    tlsrpt_record(["mailto:tls@example.com"])        → "v=TLSRPTv1; rua=mailto:tls@example.com"

Every problem names the token, where it starts in the text, and the rule it breaks
(RFC 8460 §3 for `_smtp._tls`, RFC 8461 §3.1 for `_mta-sts`, §3.2 for the policy file).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import NamedTuple
from urllib.parse import urlsplit

from tlsscope.policy_text import mx_matches, parse_sts_lines

ERROR, WARNING = "error", "warning"
TLSRPT_RULE, STS_RECORD_RULE, STS_POLICY_RULE = "RFC 8460 §3", "RFC 8461 §3.1", "RFC 8461 §3.2"
UDP_SAFE_OCTETS = 450  # name plus TXT data that still fits a plain UDP answer (RFC 7208 §3.4)
_WSP = " \t"
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
_STS_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_ADDR = re.compile(r"[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}")


class Problem(NamedTuple):
    level: str  # error | warning
    token: str  # the text it is about
    position: int  # where the token starts in the checked text (0-based), -1: the whole
    rule: str
    message: str


class RecordCheck(NamedTuple):
    kind: str  # tlsrpt | mta-sts-record | mta-sts-policy | unknown
    valid: bool  # no error (warnings allowed)
    problems: list[Problem]
    rua: list[str]  # tlsrpt: the usable report URIs
    sts_id: str | None  # mta-sts-record
    mode: str | None  # mta-sts-policy
    mx_patterns: list[str]  # mta-sts-policy
    max_age: int | None  # mta-sts-policy


def kind_of(text: str) -> str:
    stripped = text.strip()
    if re.search(r"(^|;)\s*v\s*=\s*TLSRPTv", stripped, re.IGNORECASE):
        return "tlsrpt"
    if re.search(r"(^|;)\s*v\s*=\s*STSv", stripped, re.IGNORECASE):
        return "mta-sts-record"
    if re.search(r"^\s*(version|mode|mx|max_age)\s*:", stripped, re.IGNORECASE | re.MULTILINE):
        return "mta-sts-policy"
    return "unknown"


def check(text: str, live_mx: Sequence[str] = ()) -> RecordCheck:
    """Validate a TLS-RPT record, an `_mta-sts` record or a policy file (told apart by their
    first token). `live_mx`: MX host names the policy's `mx` lines must cover."""
    kind = kind_of(text)
    if kind == "tlsrpt":
        return _check_tlsrpt(text)
    if kind == "mta-sts-record":
        return _check_sts_record(text)
    if kind == "mta-sts-policy":
        return _check_policy(text, live_mx)
    problem = Problem(ERROR, text[:40], 0, TLSRPT_RULE,
                      "not a TLS-RPT record (v=TLSRPTv1), an _mta-sts record (v=STSv1) or an "
                      "MTA-STS policy file (version: STSv1)")
    return RecordCheck("unknown", False, [problem], [], None, None, [], None)


def check_all(texts: Sequence[str], live_mx: Sequence[str] = ()) -> list[RecordCheck]:
    """Check several texts, as a DNS answer with several TXT records: more than one record of
    the same kind at a name means the sender ignores them all (RFC 8460 §3, RFC 8461 §3.1)."""
    checks = [check(text, live_mx) for text in texts]
    for kind, rule in (("tlsrpt", TLSRPT_RULE), ("mta-sts-record", STS_RECORD_RULE)):
        same = [c for c in checks if c.kind == kind]
        if len(same) > 1:
            for c in same:
                c.problems.append(Problem(
                    ERROR, "", -1, rule, f"{len(same)} {kind} records at one name: senders "
                    "treat the domain as having none; publish exactly one"))
    return [c._replace(valid=not any(p.level == ERROR for p in c.problems)) for c in checks]


class _Field(NamedTuple):
    name: str
    value: str
    position: int
    raw: str


def _fields(text: str, rule: str, problems: list[Problem]) -> list[_Field]:
    """Split `a=b; c=d;` into fields, noting whitespace the grammar does not allow."""
    out: list[_Field] = []
    offset = 0
    for raw in text.split(";"):
        start = offset + (len(raw) - len(raw.lstrip(_WSP)))
        offset += len(raw) + 1
        part = raw.strip(_WSP)
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep:
            problems.append(Problem(ERROR, part, start, rule, "a field without '='"))
            continue
        if name != name.rstrip(_WSP) or value != value.lstrip(_WSP):
            problems.append(Problem(ERROR, part, start, rule,
                                    "whitespace around '=' is not allowed (older drafts "
                                    "allowed it; senders that follow the RFC ignore the field)"))
        out.append(_Field(name.strip(_WSP), value.strip(_WSP), start, part))
    return out


def _version(text: str, fields: list[_Field], literal: str, rule: str,
             problems: list[Problem]) -> list[_Field]:
    if text != text.lstrip(_WSP + "\r\n"):
        problems.append(Problem(WARNING, text[:12], 0, rule, "leading whitespace"))
    if not fields or f"{fields[0].name}={fields[0].value}" != literal:
        first = fields[0].raw if fields else text
        problems.append(Problem(ERROR, first, fields[0].position if fields else 0, rule,
                                f"the record must start with exactly {literal!r} "
                                "(case-sensitive)"))
        return [f for f in fields if f.name.lower() != literal.split("=")[0]]
    if not re.match(re.escape(literal) + r"[ \t]*;", text.strip(_WSP)):
        problems.append(Problem(ERROR, literal, fields[0].position, rule,
                                f"{literal!r} must be followed by ';' and at least one field"))
    return fields[1:]


def _extension(field: _Field, rule: str, problems: list[Problem]) -> None:
    if not _EXT_NAME.fullmatch(field.name):
        problems.append(Problem(ERROR, field.raw, field.position, rule,
                                f"{field.name!r} is not a valid field name"))
    elif not _EXT_VALUE.fullmatch(field.value):
        problems.append(Problem(ERROR, field.raw, field.position, rule,
                                f"the value of {field.name!r} has characters the grammar "
                                "does not allow"))
    else:
        problems.append(Problem(WARNING, field.raw, field.position, rule,
                                f"unknown field {field.name!r}: senders ignore it"))


def _check_tlsrpt(text: str) -> RecordCheck:
    problems: list[Problem] = []
    fields = _version(text, _fields(text, TLSRPT_RULE, problems), "v=TLSRPTv1", TLSRPT_RULE,
                      problems)
    rua: list[str] = []
    seen_rua = False
    for field in fields:
        if field.name == "rua":
            if seen_rua:
                problems.append(Problem(WARNING, field.raw, field.position, TLSRPT_RULE,
                                        "a second 'rua=' field: only the first one is used"))
                continue
            seen_rua = True
            rua = _rua(field, problems)
        elif field.name.lower() == "rua":
            problems.append(Problem(ERROR, field.raw, field.position, TLSRPT_RULE,
                                    "'rua' must be lower case"))
        else:
            _extension(field, TLSRPT_RULE, problems)
    if not seen_rua:
        problems.append(Problem(ERROR, text.strip(), -1, TLSRPT_RULE,
                                "no 'rua=' field: senders do not know where to report"))
    elif not rua:
        problems.append(Problem(ERROR, "rua=", -1, TLSRPT_RULE,
                                "no usable report URI (mailto: or https:)"))
    if len(text.encode()) + len("_smtp._tls.") + 20 > UDP_SAFE_OCTETS:
        problems.append(Problem(WARNING, "", -1, TLSRPT_RULE,
                                f"the record is {len(text.encode())} octets: keep name and "
                                f"record under about {UDP_SAFE_OCTETS} so the DNS answer fits "
                                "UDP"))
    return RecordCheck("tlsrpt", not any(p.level == ERROR for p in problems), problems, rua,
                       None, None, [], None)


def _rua(field: _Field, problems: list[Problem]) -> list[str]:
    usable = []
    offset = field.position + len(field.raw) - len(field.value)
    for raw in field.value.split(","):
        uri = raw.strip(_WSP)
        position = offset + (len(raw) - len(raw.lstrip(_WSP)))
        offset += len(raw) + 1
        problem = uri_problem(uri)
        if problem is None:
            usable.append(uri)
        else:
            # RFC 8460 §3: a URI of another scheme is skipped (warned about), not an error.
            level = WARNING if "is not supported" in problem else ERROR
            problems.append(Problem(level, uri, position, TLSRPT_RULE, problem))
    return usable


def uri_problem(uri: str) -> str | None:
    """What is wrong with one `rua` URI (None: usable). RFC 8460 §3: mailto: or https:."""
    scheme, _, rest = uri.partition(":")
    if not _ or not scheme:
        return f"{uri!r} has no scheme: write mailto:{uri}" if "@" in uri else \
            f"{uri!r} is not a URI"
    if scheme.lower() == "mailto":
        address = rest.split("?", 1)[0]
        if not _ADDR.fullmatch(address):
            return f"{address!r} is not an e-mail address"
        return None
    if scheme.lower() == "https":
        parts = urlsplit(uri)
        if not parts.hostname or "." not in parts.hostname:
            return f"{uri!r} has no host name"
        return None
    return f"scheme {scheme!r} is not supported (only mailto: and https:); senders skip it"


def _check_sts_record(text: str) -> RecordCheck:
    problems: list[Problem] = []
    fields = _version(text, _fields(text, STS_RECORD_RULE, problems), "v=STSv1",
                      STS_RECORD_RULE, problems)
    sts_id = None
    for field in fields:
        if field.name == "id":
            if sts_id is not None:
                problems.append(Problem(WARNING, field.raw, field.position, STS_RECORD_RULE,
                                        "a second 'id=' field: only the first one is used"))
            elif not _STS_ID.fullmatch(field.value):
                problems.append(Problem(ERROR, field.raw, field.position, STS_RECORD_RULE,
                                        "id must be 1 to 32 letters or digits"))
                sts_id = field.value
            else:
                sts_id = field.value
        else:
            _extension(field, STS_RECORD_RULE, problems)
    if sts_id is None:
        problems.append(Problem(ERROR, text.strip(), -1, STS_RECORD_RULE,
                                "no 'id=' field: senders cannot tell when the policy changes"))
    return RecordCheck("mta-sts-record", not any(p.level == ERROR for p in problems),
                       problems, [], sts_id, None, [], None)


def _check_policy(text: str, live_mx: Sequence[str]) -> RecordCheck:
    problems: list[Problem] = []
    lines = text.splitlines()
    policy = parse_sts_lines(tuple(lines))
    first_key = next((line.partition(":")[0].strip() for line in lines if line.strip()), "")
    if first_key != "version":
        problems.append(Problem(WARNING, first_key, 0, STS_POLICY_RULE,
                                "'version: STSv1' should be the first line"))
    for code, message in policy.problems:
        level = WARNING if code in ("sts_policy_key_case", "sts_policy_repeated") else ERROR
        token = re.findall(r"'([^']*)'", message)
        found = token[0] if token else ""
        problems.append(Problem(level, found, text.find(found) if found else -1,
                                STS_POLICY_RULE, message))
    if policy.max_age is not None and policy.max_age < 86_400:
        problems.append(Problem(WARNING, f"max_age: {policy.max_age}",
                                text.find("max_age"), STS_POLICY_RULE,
                                "max_age under a day: senders re-fetch constantly and an "
                                "attacker who blocks the fetch soon leaves them with no policy; "
                                "use weeks (604800 or more)"))
    for host in live_mx:
        if policy.mx_patterns and not any(mx_matches(p, host) for p in policy.mx_patterns):
            problems.append(Problem(ERROR, host, -1, "RFC 8461 §4.1",
                                    f"MX {host} is not covered by any mx line (a wildcard "
                                    "stands for exactly one label): under enforce, senders "
                                    "refuse to deliver to it"))
    return RecordCheck("mta-sts-policy", not any(p.level == ERROR for p in problems),
                       problems, [], None, policy.mode, list(policy.mx_patterns),
                       policy.max_age)


def tlsrpt_record(rua: Sequence[str]) -> str:
    """The `_smtp._tls` TXT value for these report URIs; ValueError names a bad one."""
    if not rua:
        raise ValueError("at least one report URI (mailto: or https:) is needed")
    for uri in rua:
        problem = uri_problem(uri)
        if problem:
            raise ValueError(problem)
    return f"v=TLSRPTv1; rua={','.join(rua)}"


def sts_policy(mx: Sequence[str], mode: str, max_age: int) -> str:
    """An MTA-STS policy file (RFC 8461 §3.2), CRLF line ends; ValueError names a problem."""
    text = "\r\n".join(["version: STSv1", f"mode: {mode}",
                        *(f"mx: {m.lower().rstrip('.')}" for m in mx),
                        f"max_age: {max_age}"]) + "\r\n"
    errors = [p for p in _check_policy(text, ()).problems if p.level == ERROR]
    if errors:
        raise ValueError(errors[0].message)
    return text


def sts_record(sts_id: str | None = None, now: dt.datetime | None = None) -> str:
    """The `_mta-sts` TXT value; the id defaults to the UTC time, which changes every second."""
    sts_id = sts_id or (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S")
    if not _STS_ID.fullmatch(sts_id):
        raise ValueError(f"id {sts_id!r} must be 1 to 32 letters or digits")
    return f"v=STSv1; id={sts_id};"
