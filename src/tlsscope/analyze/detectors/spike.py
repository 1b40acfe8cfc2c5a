"""A failure rate above the domain's own baseline (a spike), not above a fixed number, dated
on the day the rate changed (a change point), not on the latest day.

The daily failure rates are split in two, a before and an after: of the splits whose after
is materially higher than the before's median on every one of its days and lasts to the
latest day, the one whose two levels fit the days best (least squares, each day weighed by
its sessions) dates the change. The after is measured against the days before the change,
so the days already failing never sit in the baseline. Sessions given under both an sts and
a tlsa policy count once (RFC 8460 §4.4: `counted`)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import NamedTuple

from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.detectors.words import variant_texts
from tlsscope.facts import DomainFacts, PolicyDay
from tlsscope.vocab import Severity

MIN_BASE_DAYS = 7  # days with reports before the change point
MIN_FAILED = 10  # sessions after the change: a handful of failures is not a spike
FACTOR = 3.0  # every day after the change at least this many times the baseline rate ...
MIN_RISE = 2.0  # ... and at least this many percentage points above it


class Day(NamedTuple):
    day: dt.date
    failed: int
    sessions: int
    policies: list[PolicyDay]

    @property
    def rate(self) -> float:
        return 100.0 * self.failed / self.sessions if self.sessions else 0.0


class Spike(NamedTuple):
    start: dt.date  # the change point: the first day of the higher level
    last: dt.date
    days: list[Day]  # from the change point on
    baseline: float  # the median daily rate of the days before, in percent
    base_days: int

    @property
    def failed(self) -> int:
        return sum(d.failed for d in self.days)

    @property
    def sessions(self) -> int:
        return sum(d.sessions for d in self.days)

    def explained_by(self, failed_by_day: dict[dt.date, int]) -> bool:
        """True when, without these failed sessions (one finding's, per day), no day from the
        change point on would start a spike against the same baseline: the finding explains
        it fully. Another problem that would still be a spike of its own keeps it apart."""
        floor = max(self.baseline * FACTOR, self.baseline + MIN_RISE)
        rest = [(d.failed - failed_by_day.get(d.day, 0), d.sessions) for d in self.days]
        for start in range(len(rest)):
            after = rest[start:]
            if (sum(failed for failed, _ in after) >= MIN_FAILED and after[-1][1]
                    and all(100.0 * f / n >= floor for f, n in after if n)):
                return False
        return True


def daily(facts: DomainFacts) -> list[Day]:
    days: dict[dt.date, list[PolicyDay]] = defaultdict(list)
    for policy in facts.policies:
        if policy.counted:
            days[policy.day].append(policy)
    return [Day(day, sum(p.failed for p in rows), sum(p.failed + p.successful for p in rows),
                rows) for day, rows in sorted(days.items())]


def _sse(days: list[Day]) -> float:
    """The squared error of one level (the pooled rate) over days, weighed by sessions."""
    total = sum(d.sessions for d in days)
    level = 100.0 * sum(d.failed for d in days) / total if total else 0.0
    return sum(d.sessions * (d.rate - level) ** 2 for d in days)


def _qualifies(before: list[Day], after: list[Day]) -> float | None:
    """The baseline when `after` is materially higher and sustained, else None."""
    baseline = statistics.median(d.rate for d in before)
    floor = max(baseline * FACTOR, baseline + MIN_RISE)
    sustained = all(d.rate >= floor for d in after if d.sessions)
    if not sustained or not after[-1].sessions or sum(d.failed for d in after) < MIN_FAILED:
        return None
    return baseline


def find(facts: DomainFacts) -> Spike | None:
    series = daily(facts)
    best: tuple[float, Spike] | None = None
    for split in range(MIN_BASE_DAYS, len(series)):
        before, after = series[:split], series[split:]
        baseline = _qualifies(before, after)
        if baseline is None:
            continue
        fit = _sse(before) + _sse(after)
        if best is None or fit < best[0]:
            best = (fit, Spike(after[0].day, after[-1].day, after, baseline, len(before)))
    return best[1] if best else None


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    spike = find(facts)
    if spike is None:
        return []
    rates = [d.rate for d in spike.days if d.sessions]
    title, explanation, fix = variant_texts(
        "failure-spike", lang, "" if len(spike.days) > 1 else "_one",
        domain=facts.domain, day=spike.start.isoformat(), last=spike.last.isoformat(),
        days=len(spike.days), rate=f"{100.0 * spike.failed / spike.sessions:.1f}",
        low=f"{min(rates):.1f}", high=f"{max(rates):.1f}", failed=spike.failed,
        sessions=spike.sessions, baseline=f"{spike.baseline:.1f}", base_days=spike.base_days)
    evidence = [Evidence(report_key=p.report_key, day=p.day, reporter=p.reporter,
                         sessions=p.failed) for d in spike.days for p in d.policies if p.failed]
    return [DomainFinding.build(
        kind="failure-spike", severity=Severity.HIGH, domain=facts.domain,
        sessions=spike.failed, title=title, explanation=explanation, fix=fix,
        evidence=evidence, first_seen=spike.start, last_seen=spike.last)]
