"""Stored findings: the rows the analyses computed (tlsscope.app.freshness), with every
status change kept, and the marks of the domains whose findings wait to be recomputed.

Storing is idempotent: the same rows again change no row and add no event. A stored finding
that is no longer among the computed ones is marked resolved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from tlsscope.facts import DomainFacts
from tlsscope.store import coarse
from tlsscope.store import tables as t
from tlsscope.store.queries import domain_facts
from tlsscope.vocab import FindingStatus

WINDOW_DAYS = 30


class FindingRow(NamedTuple):
    """A finding as the analyses computed it, ready to store: `data` is the finding's JSON,
    `texts` its other languages' texts as JSON ({lang: [title, explanation, fix, live]})."""

    fingerprint: str
    kind: str
    status: str
    severity: str
    first_seen: dt.date
    last_seen: dt.date
    data: str
    texts: str


class Change(NamedTuple):
    """A stored finding that appeared, or whose status or severity changed (`before_*` are
    "" for a new one): what alerts are about."""

    finding_id: int
    domain: str
    fingerprint: str
    kind: str
    status: str
    severity: str
    before_status: str
    before_severity: str


class StoredFinding(NamedTuple):
    id: int
    fingerprint: str
    status: str
    data: str  # the finding's JSON, in English, as computed
    texts: str  # {lang: [title, explanation, fix, live summary]} as JSON ("" : none)


def stale_domains(connection: Connection) -> list[str]:
    return [domain for domain, _ in stale_marks(connection)]


MAX_MARKS_READ = 20_000  # mark rows read per pass (the rest: the next pass)


def stale_marks(connection: Connection) -> list[tuple[str, tuple[int, ...]]]:
    """(domain, the ids of its marks), the domain marked longest ago first, so that no domain
    waits behind another that keeps being marked. A recomputation takes away only these
    (settle): ids are given out in the order writers insert, not the order they commit, so
    "every mark up to the newest read" could take one whose batch it did not see."""
    s = t.stale_domains
    marks: dict[str, list[int]] = {}
    for domain, mark in connection.execute(
            select(s.c.domain, s.c.id).order_by(s.c.id).limit(MAX_MARKS_READ)):
        marks.setdefault(domain, []).append(int(mark))
    return [(domain, tuple(ids)) for domain, ids in marks.items()]


def window_facts(connection: Connection, domain: str) -> DomainFacts | None:
    """A domain's facts over the 30 days up to its latest report (None: no reports)."""
    days = coarse.domain_days(connection, lambda table: [table.c.domain == domain])
    latest = connection.execute(select(func.max(days.c.day))).scalar_one()
    if latest is None:
        return None
    return domain_facts(connection, domain, latest - dt.timedelta(days=WINDOW_DAYS - 1), latest)


def settle(connection: Connection, domain: str, marks: Sequence[int], now: dt.datetime,
           computed: list[FindingRow]) -> list[Change] | None:
    """Store findings computed from the facts as they were when the domain's `marks` were
    read, and take those marks away (one that came meanwhile stays, and the domain is
    computed again); returns the changes. None when another process settled it first."""
    s = t.stale_domains
    taken = connection.execute(delete(s).where(s.c.domain == domain, s.c.id.in_(list(marks))))
    if not taken.rowcount:  # (the delete locks them: a second settler finds none)
        return None
    return apply(connection, domain, now, computed)


def apply(connection: Connection, domain: str, now: dt.datetime,
          computed: list[FindingRow]) -> list[Change]:
    """Store computed findings: new ones, changed ones (with an event when the status or
    severity changed), and resolve the ones no longer detected. A short write."""
    f = t.findings
    stored = {row["fingerprint"]: row for row in connection.execute(
        select(f.c.id, f.c.fingerprint, f.c.kind, f.c.status, f.c.severity, f.c.data,
               f.c.texts).where(f.c.domain == domain)).mappings()}
    seen = set()
    changes: list[Change] = []
    for finding in computed:
        seen.add(finding.fingerprint)
        row = stored.get(finding.fingerprint)
        values: dict[str, Any] = {
            "kind": finding.kind, "status": finding.status, "severity": finding.severity,
            "first_seen": finding.first_seen, "last_seen": finding.last_seen,
            "data": finding.data, "texts": finding.texts}
        if row is None:
            new_id = connection.execute(f.insert().values(
                domain=domain, fingerprint=finding.fingerprint, updated_at=now, **values)
                .returning(f.c.id)).scalar_one()
            _event(connection, new_id, now, finding.status, finding.severity)
            changes.append(Change(int(new_id), domain, finding.fingerprint, finding.kind,
                                  finding.status, finding.severity, "", ""))
            continue
        if (row["data"], row["status"], row["texts"]) == (finding.data, finding.status,
                                                          finding.texts):
            continue
        connection.execute(update(f).where(f.c.id == row["id"]).values(updated_at=now, **values))
        if (row["status"], row["severity"]) != (finding.status, finding.severity):
            _event(connection, row["id"], now, finding.status, finding.severity)
            changes.append(Change(int(row["id"]), domain, finding.fingerprint, finding.kind,
                                  finding.status, finding.severity, row["status"],
                                  row["severity"]))
    for key, row in stored.items():
        if key not in seen and row["status"] != FindingStatus.RESOLVED:
            connection.execute(update(f).where(f.c.id == row["id"])
                               .values(status=FindingStatus.RESOLVED, updated_at=now))
            _event(connection, row["id"], now, FindingStatus.RESOLVED, row["severity"])
            changes.append(Change(int(row["id"]), domain, key, row["kind"], FindingStatus.RESOLVED,
                                  row["severity"], row["status"], row["severity"]))
    return changes


def _event(connection: Connection, finding_id: int, now: dt.datetime, status: str,
           severity: str) -> None:
    connection.execute(t.finding_events.insert().values(finding=finding_id, at=now,
                                                        status=status, severity=severity))


def history(connection: Connection, domain: str) -> dict[str, list[dict[str, Any]]]:
    """Each stored finding's status changes, by fingerprint, oldest first."""
    f, e = t.findings, t.finding_events
    out: dict[str, list[dict[str, Any]]] = {}
    for key, at, status, severity in connection.execute(
            select(f.c.fingerprint, e.c.at, e.c.status, e.c.severity)
            .join(e, e.c.finding == f.c.id).where(f.c.domain == domain)
            .order_by(e.c.at, e.c.id)):
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        out.setdefault(key, []).append({"at": at, "status": status, "severity": severity})
    return out


def stored(connection: Connection, domain: str) -> list[StoredFinding]:
    """A domain's stored findings, oldest first, as stored (the analyses decode them)."""
    f = t.findings
    return [StoredFinding(id=int(row["id"]), fingerprint=row["fingerprint"],
                          status=row["status"], data=row["data"], texts=row["texts"] or "")
            for row in connection.execute(
                select(f.c.id, f.c.fingerprint, f.c.status, f.c.data, f.c.texts)
                .where(f.c.domain == domain).order_by(f.c.id)).mappings()]


def domains(connection: Connection) -> list[str]:
    f = t.findings
    return [row[0] for row in connection.execute(select(f.c.domain).distinct()
                                                 .order_by(f.c.domain))]
