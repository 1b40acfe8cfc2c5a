"""What each page and API call shows, built once for both, always within the user's scope.

Everything returned is plain data (msgspec Structs, lists, dicts): the templates render it
escaped, the API encodes it as JSON.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from fastapi import HTTPException

from tlsscope import periods
from tlsscope.analyze import catalog
from tlsscope.analyze.detectors import DomainFinding
from tlsscope.analyze.facts import DomainStats
from tlsscope.analyze.live import LiveCheck
from tlsscope.analyze.reading import read_report
from tlsscope.analyze.summary import Summary, summarize, unconfirmed_problems
from tlsscope.report import Report
from tlsscope.store import Store, browse
from tlsscope.store import accounts as account_rows
from tlsscope.store.findings_rows import localized
from tlsscope.web.auth import Scope

SEVERITIES = ("critical", "high", "medium", "info")


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


class FindingView(msgspec.Struct, kw_only=True):
    id: int
    finding: DomainFinding


# The findings' status filter: open (everything not resolved: open and likely-fixed), one
# status, or all of them. The CLI's `findings --status` takes the same words.
STATUSES = ("open", "likely-fixed", "resolved", "all")
STATUS_PATTERN = "^(" + "|".join(STATUSES) + ")$"


today = periods.today
window = periods.window  # "the last N days": the N days up to today (or until), everywhere


def visible(store: Store, scope: Scope) -> list[tuple[str, str]]:
    """(domain, organisation name) of every domain the user may see."""
    every = store.read(account_rows.all_domains)
    if scope.domains is None:
        return [(d.name, d.organisation_name) for d in every]
    allowed = set(scope.domains)
    owned = {d.name: d.organisation_name for d in every}
    return [(name, owned.get(name, "")) for name in sorted(allowed)]


def overview(store: Store, scope: Scope, days: int = 30) -> list[DomainCard]:
    """Every visible domain's card, from five queries whatever the number of domains."""
    since, until = window(days)
    domains = visible(store, scope)
    only = [name for name, _ in domains] if scope.domains is not None else None
    last = store.read(browse.last_report_days, only)
    counts = store.read(browse.open_counts, only)
    per_domain = store.read(browse.overview_days, only, since, until)
    policies = store.read(browse.main_policies, only, since, until)
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
            open_findings={s: counts.get(name, {}).get(s, 0) for s in SEVERITIES},
            policy=policies.get(name, ""), last_report=last.get(name), spark=spark))
    return sorted(cards, key=lambda c: (-sum(c.open_findings[s] for s in SEVERITIES[:2]),
                                        c.domain))


def stats(store: Store, scope: Scope, domain: str, since: dt.date,
          until: dt.date) -> DomainStats:
    return store.stats(scope.check(domain), since, until)


def summary(store: Store, scope: Scope, domain: str, since: dt.date, until: dt.date,
            lang: str, stats: DomainStats | None = None) -> Summary:
    """The plain-language summary (`stats`: the same period's, when already at hand), its
    problems marked unconfirmed as their stored findings are."""
    name = scope.check(domain)
    shaky = unconfirmed_problems(f for _, _, f in store.read(localized, name,
                                                             catalog.DEFAULT_LANG))
    return summarize(stats or store.stats(name, since, until),
                     store.failures(name, since, until), lang, shaky)


def findings(store: Store, scope: Scope, domain: str | None, lang: str,
             status: str = "open") -> list[FindingView]:
    """Stored findings of one or every visible domain. They are not recomputed here: the
    analyst process does it (a big domain takes seconds), so a page never waits."""
    if domain is not None:
        names = [scope.check(domain)]
    else:
        names = [name for name in store.finding_domains() if scope.allows(name)]
    out = []
    for name in names:
        for finding_id, _, finding in store.read(localized, name, lang):
            if status == "all" or (status == "open" and finding.status != "resolved") \
                    or finding.status == status:
                out.append(FindingView(id=finding_id, finding=finding))
    order = {s: n for n, s in enumerate(SEVERITIES)}
    return sorted(out, key=lambda v: (v.finding.status == "resolved",
                                      order.get(v.finding.severity, 9), -v.finding.sessions))


def finding(store: Store, scope: Scope, finding_id: int,
            lang: str) -> tuple[FindingView, list[dict[str, Any]]]:
    domain = store.read(browse.finding_domain, finding_id)
    if domain is None or not scope.allows(domain):
        raise HTTPException(404, "not found")
    for found_id, _, found in store.read(localized, domain, lang):
        if found_id == finding_id:
            return (FindingView(id=finding_id, finding=found),
                    store.read(browse.finding_events, finding_id))
    raise HTTPException(404, "not found")


def latest_check(store: Store, scope: Scope, domain: str) -> LiveCheck | None:
    return store.latest_check(scope.check(domain))


def report_visible(store: Store, scope: Scope, key: str) -> list[str]:
    """The report's domains; 404 unless the user may see every one of them (a report about
    two tenants' domains is for admins only)."""
    domains = store.read(browse.report_domains, key)
    if not domains or not all(scope.allows(d) for d in domains):
        raise HTTPException(404, "not found")
    return domains


def report(store: Store, scope: Scope, key: str, lang: str) -> dict[str, Any]:
    domains = report_visible(store, scope, key)
    stored = store.report(key)
    if stored is None:
        raise HTTPException(404, "not found")
    reading = read_report(stored.report, stored.counted, lang)
    return {"key": key, "domains": domains, "stored": stored, "reading": reading}


def raw_report(store: Store, scope: Scope, key: str) -> bytes:
    """The report's JSON (RFC 8460 §4 names, pretty)."""
    report_visible(store, scope, key)
    stored = store.report(key)
    if stored is None:
        raise HTTPException(404, "not found")
    return pretty(stored.report)


def pretty(report: Report) -> bytes:
    """A report as JSON with RFC 8460 §4 names, indented."""
    return msgspec.json.format(msgspec.json.encode(report), indent=2)


def require_admin(scope: Scope) -> None:
    if not scope.user.is_admin:
        raise HTTPException(404, "not found")


def require_writer(scope: Scope) -> None:
    if not scope.user.can_write:
        raise HTTPException(403, "read-only users cannot change anything")
