"""A domain's numbers: the overview's cards, its statistics, failures, and the plain-language
summary, always within the user's scope and over one window (tlsscope.app.windows)."""

from __future__ import annotations

import datetime as dt

import msgspec

from tlsscope.analyze import catalog
from tlsscope.analyze.summary import HealthSummary, summarize
from tlsscope.app import findings
from tlsscope.app.scope import Scope, domain_name, visible
from tlsscope.app.windows import window
from tlsscope.facts import DomainStats, FailureGroup
from tlsscope.store import Store, browse, queries


class DomainCard(msgspec.Struct, kw_only=True):
    domain: str
    organisation: str
    success_rate: float | None
    sessions: int
    failed: int
    open_findings: dict[str, int]  # by severity
    policy: str  # "sts enforce", "tlsa", ... the policy most sessions were measured against
    last_report: dt.date | None
    spark: list[float | None]  # daily success rate, oldest first


def overview(store: Store, scope: Scope, days: int = 30) -> list[DomainCard]:
    """Every visible domain's card, from five queries whatever the number of domains; those
    with the most critical and high findings first."""
    since, until = window(days)
    domains = visible(store, scope)
    only = [name for name, _ in domains] if scope.domains is not None else None
    last = store.read(browse.last_report_days, only)
    counts = store.read(browse.open_counts, only)
    per_domain = store.read(browse.overview_days, only, since, until)
    policies = store.read(browse.main_policies, only, since, until)
    severities = findings.SEVERITIES
    cards = []
    for name, organisation in domains:
        per_day = per_domain.get(name, {})
        spark: list[float | None] = []
        for offset in range(days):
            figures = per_day.get(since + dt.timedelta(days=offset))
            spark.append(catalog.success_rate(*figures) if figures else None)
        ok = sum(figures[0] for figures in per_day.values())
        failed = sum(figures[1] for figures in per_day.values())
        cards.append(DomainCard(
            domain=name, organisation=organisation, success_rate=catalog.success_rate(ok, failed),
            sessions=ok + failed, failed=failed,
            open_findings={s: counts.get(name, {}).get(s, 0) for s in severities},
            policy=policies.get(name, ""), last_report=last.get(name), spark=spark))
    return sorted(cards, key=lambda c: (-sum(c.open_findings[s] for s in severities[:2]),
                                        c.domain))


def stats(store: Store, scope: Scope, domain: str | None, since: dt.date,
          until: dt.date) -> DomainStats:
    """Per-day totals and breakdowns of one domain (None: every domain, admins only)."""
    if domain is None:
        scope.require_admin()
    return store.read(queries.stats, scope.domain(domain) if domain else None, since, until)


def failures(store: Store, scope: Scope, domain: str, since: dt.date,
             until: dt.date) -> list[FailureGroup]:
    """Failed sessions by result type and receiving MX, with their reporters."""
    return store.read(queries.failure_groups, scope.domain(domain), since, until)


def summary(store: Store, scope: Scope, domain: str, since: dt.date, until: dt.date,
            lang: str, stats_now: DomainStats | None = None) -> HealthSummary:
    """The plain-language summary (`stats_now`: the same period's, when already at hand), its
    problems marked unconfirmed as their stored findings are."""
    name = scope.domain(domain)
    return summarize(stats_now or store.read(queries.stats, name, since, until),
                     failures(store, scope, name, since, until), lang,
                     findings.unconfirmed(store, name))


def last_report_day(store: Store, scope: Scope, domain: str | None) -> dt.date | None:
    """The day of the newest report (of `domain`, or of any visible domain)."""
    if domain is None:
        newest = store.read(browse.reports, scope.domains, limit=1)
        return newest[0].day if newest else None
    name = domain_name(domain)
    if not scope.allows(name):
        return None
    found: dt.date | None = store.read(browse.last_report_days, [name]).get(name)
    return found


def mx_failures(store: Store, scope: Scope, domain: str, mx_host: str, first: dt.date,
                last: dt.date) -> dict[dt.date, int]:
    """Failed sessions per day at one MX."""
    return dict(store.read(browse.mx_failures, scope.domain(domain), mx_host, first, last))
