"""One step's result of a live check."""

from __future__ import annotations

import msgspec

OK, WARNING, ERROR = "ok", "warning", "error"


class Step(msgspec.Struct, kw_only=True):
    step: str  # tlsrpt-record, tlsrpt-rua, mta-sts-record, ...
    target: str  # the DNS name, URI or host it is about
    status: str  # ok | warning | error
    line: str  # one plain-language sentence
    details: list[str] = msgspec.field(default_factory=list)  # problems, values found
    fix: list[str] = msgspec.field(default_factory=list)


def worst(steps: list[Step]) -> str:
    statuses = {s.status for s in steps}
    return ERROR if ERROR in statuses else WARNING if WARNING in statuses else OK
