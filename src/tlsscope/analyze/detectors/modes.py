"""Which MTA-STS mode a finding is judged by, whatever the order of a report's policies[].

A report of a day the policy changed gives each version of it (RFC 8460 §4.4), so one day can
quote both testing and enforce. Findings are judged by the latest day's strictest mode
(catalog.STRICTNESS: enforce over testing over none), and their text says that the day quoted
several: never by the version that happens to come first or last in the list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple, Protocol

from tlsscope.analyze import catalog
from tlsscope.vocab import PolicyType

# Bound once for the loops over rows (see tlsscope.vocab).
_STS = PolicyType.STS.value


class Quoting(Protocol):
    """A policy or failure row of a report (facts.PolicyDay, facts.FailureRow)."""

    @property
    def day(self) -> dt.date: ...
    @property
    def policy_type(self) -> str: ...
    @property
    def mode(self) -> str: ...  # "" when the report did not quote it


class Judged(NamedTuple):
    mode: str  # the catalog mode (catalog.MODES or UNQUOTED) findings are judged by
    day: dt.date  # the latest day
    quoted: tuple[str, ...]  # the sts modes that day quoted, strictest first


def judged(rows: Iterable[Quoting]) -> Judged:
    """The mode of the latest day's rows: the strictest, a row that quotes its mode preferred
    over an sts row that does not (RFC 8460 §4.3: a report may give no policy-string)."""
    every = list(rows)
    day = max(r.day for r in every)
    latest = [r for r in every if r.day == day]
    told = [r for r in latest if r.policy_type != _STS or r.mode] or latest
    mode = max((catalog.policy_mode(r.policy_type, r.mode) for r in told), key=catalog.strictness)
    quoted = sorted({r.mode for r in latest if r.policy_type == _STS and r.mode},
                    key=catalog.strictness, reverse=True)
    return Judged(mode, day, tuple(quoted))


def note(found: Judged, lang: str) -> str:
    """The sentence saying that the latest day quoted several modes ("" when it did not)."""
    if len(found.quoted) < 2:
        return ""
    words = catalog.Words(lang)
    return words.say("finding_notes", "modes_changed", day=found.day.isoformat(),
                     modes=words.names(list(found.quoted)), mode=found.quoted[0])
