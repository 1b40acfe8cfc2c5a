"""A live check as data: its steps and its status (the `tlsscope check --json` contract, and
what the store keeps). Made by tlsscope.check, judged against findings by analyze/live.py."""

from __future__ import annotations

import datetime as dt
import enum

import msgspec


class CheckStatus(enum.StrEnum):
    """A step's, or a whole check's, status (the check's: its worst step's)."""

    OK = "ok"
    WARNING = "warning"
    INCONCLUSIVE = "inconclusive"  # a lookup got no answer: no evidence, for or against
    ERROR = "error"


class Verdict(enum.StrEnum):
    """What a live check says of a finding."""

    CONFIRMED = "confirmed"  # it sees the same failure
    CONTRADICTED = "contradicted"  # the host is fine now
    INCONCLUSIVE = "inconclusive"  # it could not tell


OK, WARNING, ERROR = CheckStatus.OK.value, CheckStatus.WARNING.value, CheckStatus.ERROR.value
INCONCLUSIVE = CheckStatus.INCONCLUSIVE.value
CONFIRMED, CONTRADICTED = Verdict.CONFIRMED.value, Verdict.CONTRADICTED.value
_RANK = {OK: 0, WARNING: 1, INCONCLUSIVE: 2, ERROR: 3}


class Step(msgspec.Struct, kw_only=True):
    """One step's result of a live check."""

    step: str  # tlsrpt-record, tlsrpt-rua, mta-sts-record, mta-sts-policy, mx, dane, ...
    target: str  # the DNS name, URI or host it is about
    status: str  # ok | warning | error | inconclusive (a lookup got no answer)
    line: str  # one plain-language sentence
    details: list[str] = msgspec.field(default_factory=list)  # problems, values found
    fix: list[str] = msgspec.field(default_factory=list)
    host: str = ""  # the MX host a mx or dane step is about
    # The RFC 8460 result types a sender would report for what this step saw.
    results: list[str] = msgspec.field(default_factory=list)
    # When the certificate this step saw (an MX's, the policy host's) expires: ISO 8601, UTC
    # ("" when none was seen). What alerts count the days down from (tlsscope.alert).
    expires: str = ""
    # MX hosts this step saw outside the MTA-STS policy's mx lines (RFC 8461 §4.1).
    uncovered: list[str] = msgspec.field(default_factory=list)


class LiveCheck(msgspec.Struct, kw_only=True):
    """One run of `tlsscope check` (the `--json` contract, and what the store keeps)."""

    domain: str
    checked_at: dt.datetime
    status: str  # the worst step: error, inconclusive, warning, ok
    seconds: float
    steps: list[Step]
    mx_hosts: list[str] = msgspec.field(default_factory=list)
    mx_known: bool = True  # False: the MX lookup got no answer, mx_hosts is not the MX set
    sts_id: str = ""  # the _mta-sts record's id ("" without a valid record)
    policy_sha256: str = ""  # of the policy file served ("" when none was fetched)
    policy_mx: list[str] = msgspec.field(default_factory=list)  # its mx patterns
    policy_mode: str = ""


def worst(steps: list[Step]) -> str:
    """Error over inconclusive (nothing wrong seen, but not everything could be seen) over
    warning over ok."""
    return max((s.status for s in steps), key=lambda status: _RANK.get(status, 0), default=OK)


class Certificate(msgspec.Struct, frozen=True):
    """A certificate a check saw: whose (an MX host, or the policy host for the
    mta-sts-policy step), at which address, and when it expires."""

    step: str  # "mx" or "mta-sts-policy"
    host: str
    address: str  # "" when the step did not say
    expires: dt.datetime


CERTIFICATE_STEPS = ("mx", "mta-sts-policy")


def certificates(check: LiveCheck) -> list[Certificate]:
    """Every certificate `check` recorded an expiry for, in step order: one rule for the
    alerts (tlsscope.alert.checkwarn) and /metrics. A step without a host (an MX step's
    host, or mta-sts.<domain> for the policy) or with an unreadable time is passed over."""
    out = []
    for step in check.steps:
        if step.step not in CERTIFICATE_STEPS or not step.expires:
            continue
        try:
            expires = dt.datetime.fromisoformat(step.expires)
        except ValueError:
            continue
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        host = step.host or (f"mta-sts.{check.domain}" if step.step == "mta-sts-policy" else "")
        if host:
            out.append(Certificate(step=step.step, host=host, address=_address(step.target),
                                   expires=expires))
    return out


def _address(target: str) -> str:
    """"mx1.example.com [192.0.2.1]" → "192.0.2.1"; a URL "... via 192.0.2.1" → it."""
    if target.endswith("]") and "[" in target:
        return target.rsplit("[", 1)[1][:-1]
    return target.rsplit(" via ", 1)[1] if " via " in target else ""
