"""The findings a user sees: stored ones in their language, filtered by status, within scope.

Stored findings are brought up to date by `tlsscope.app.freshness` (serve's analyst, or the
CLI before it lists them); reading them here never recomputes anything, so a page never
waits for a big domain.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from tlsscope.analyze import catalog
from tlsscope.analyze.confirm import weigh
from tlsscope.analyze.detectors import DomainFinding, detect
from tlsscope.analyze.summary import unconfirmed_problems
from tlsscope.app.scope import Scope, domain_name
from tlsscope.errors import Invalid, NotFound
from tlsscope.store import Store, browse, findings_rows, queries
from tlsscope.vocab import FindingStatus, Severity, severity_rank

SEVERITIES = tuple(Severity)  # most severe first
ALL = "all"
# The status filter: open (everything not resolved: open and likely-fixed), one status, or
# all of them. `findings --status`, the pages and the API take the same words.
STATUSES = (*FindingStatus, ALL)
PER_REPORTER = ("reporter-silent", "new-reporter")  # one finding per reporter


class FindingView(msgspec.Struct, kw_only=True):
    id: int
    finding: DomainFinding


def fingerprint(f: DomainFinding) -> str:
    """What makes a stored finding the same one over time. Not the receiving IP: a finding is
    one per result type and MX, whichever of its nodes fail and whichever reporter names
    them (the field stays empty, as before, so that keys keep their shape)."""
    who = f.reporters[0] if f.kind in PER_REPORTER and f.reporters else ""
    return "|".join((f.kind, f.mx_host, "", f.result_type, who))


def status_filter(status: str) -> str:
    if status not in STATUSES:
        raise Invalid("status", f"status must be one of {', '.join(STATUSES)}")
    return status


def shown(finding: DomainFinding, status: str) -> bool:
    """Whether the status filter keeps this finding."""
    if status == ALL:
        return True
    if status == FindingStatus.OPEN:
        return finding.status != FindingStatus.RESOLVED
    return finding.status == status


def decoded(row: findings_rows.StoredFinding, lang: str) -> DomainFinding:
    """A stored finding, its status the stored one, its texts (and live evidence sentence) in
    `lang`, as stored by the recomputation."""
    finding = msgspec.json.decode(row.data, type=DomainFinding)
    finding.status = FindingStatus(row.status)
    texts = msgspec.json.decode(row.texts).get(lang) if row.texts and lang != "en" else None
    if texts:
        finding.title, finding.explanation, finding.fix = texts[0], texts[1], texts[2]
        if finding.live is not None and texts[3]:
            finding.live.summary = texts[3]
    return finding


def of_domain(store: Store, domain: str, lang: str) -> list[tuple[int, str, DomainFinding]]:
    """A domain's stored findings as (id, fingerprint, finding), oldest first."""
    return [(row.id, row.fingerprint, decoded(row, lang))
            for row in store.read(findings_rows.stored, domain)]


def unconfirmed(store: Store, domain: str) -> frozenset[tuple[str, str]]:
    """What the plain-language summary must call unconfirmed (analyze/summary.py)."""
    return unconfirmed_problems(f for _, _, f in of_domain(store, domain, catalog.DEFAULT_LANG))


def listing(store: Store, scope: Scope, domain: str | None, lang: str,
            status: str = FindingStatus.OPEN) -> list[FindingView]:
    """Stored findings of one or every visible domain, most severe first, resolved last."""
    status_filter(status)
    if domain is not None:
        names = [scope.domain(domain)]
    else:
        names = [name for name in store.read(findings_rows.domains) if scope.allows(name)]
    out = [FindingView(id=finding_id, finding=finding)
           for name in names for finding_id, _, finding in of_domain(store, name, lang)
           if shown(finding, status)]
    return sorted(out, key=lambda v: (v.finding.status == FindingStatus.RESOLVED,
                                      severity_rank(v.finding.severity), -v.finding.sessions))


def with_history(store: Store, domain: str | None, lang: str, status: str = FindingStatus.OPEN
                 ) -> list[tuple[DomainFinding, list[dict[str, Any]]]]:
    """Stored findings with their status changes, oldest first (`tlsscope findings`)."""
    status_filter(status)
    out: list[tuple[DomainFinding, list[dict[str, Any]]]] = []
    names = [domain_name(domain)] if domain else store.read(findings_rows.domains)
    for name in names:
        history = store.read(findings_rows.history, name)
        out.extend((finding, history.get(key, []))
                   for _, key, finding in of_domain(store, name, lang) if shown(finding, status))
    return out


def as_of(store: Store, domain: str | None, first: dt.date, last: dt.date, lang: str,
          report_domains: list[str], status: str = FindingStatus.OPEN) -> list[DomainFinding]:
    """What the detectors find in a window's reports, computed now, stored nowhere (no live
    evidence, no history): the findings as they were on a past day."""
    status_filter(status)
    out: list[DomainFinding] = []
    names = [domain_name(domain)] if domain else store.read(queries.domains, first, last)
    for name in names:
        facts = store.read(queries.domain_facts, name, first, last)
        found = detect(facts, lang, report_domains)
        weigh(found, facts, lang)
        out.extend(f for f in found if shown(f, status))
    return out


def one(store: Store, scope: Scope, finding_id: int,
        lang: str) -> tuple[FindingView, list[dict[str, Any]]]:
    """A finding and its status changes; `NotFound` outside the user's scope."""
    domain = store.read(browse.finding_domain, finding_id)
    if domain is None or not scope.allows(domain):
        raise NotFound()
    for found_id, _, found in of_domain(store, domain, lang):
        if found_id == finding_id:
            return (FindingView(id=finding_id, finding=found),
                    store.read(browse.finding_events, finding_id))
    raise NotFound()
