"""Stored findings: recomputed for the stale domains, with every status change kept.

Recomputation is idempotent: running it again with the same reports changes no row and adds
no event. A stored finding that detection no longer produces is marked resolved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from tlsscope.analyze import catalog
from tlsscope.analyze.confirm import weigh
from tlsscope.analyze.detectors import DomainFinding, detect
from tlsscope.analyze.facts import DomainFacts
from tlsscope.analyze.live import LiveCheck, corroborate
from tlsscope.store import checks_rows, coarse
from tlsscope.store import tables as t
from tlsscope.store.queries import domain_facts

WINDOW_DAYS = 30
PER_REPORTER = ("reporter-silent", "new-reporter")


def fingerprint(f: DomainFinding) -> str:
    """What makes a stored finding the same one over time. Not the receiving IP: a finding is
    one per result type and MX, whichever of its nodes fail and whichever reporter names
    them (the field stays empty, as before, so that keys keep their shape)."""
    who = f.reporters[0] if f.kind in PER_REPORTER and f.reporters else ""
    return "|".join((f.kind, f.mx_host, "", f.result_type, who))


def stale_domains(connection: Connection) -> list[str]:
    return [domain for domain, _ in stale_marks(connection)]


def stale_marks(connection: Connection) -> list[tuple[str, int]]:
    """(domain, generation of its mark), oldest generation first so that no domain waits
    behind another that keeps being marked."""
    s = t.stale_domains
    return [(row[0], int(row[1])) for row in connection.execute(
        select(s.c.domain, s.c.gen).order_by(s.c.gen, s.c.domain))]


def window_facts(connection: Connection, domain: str) -> DomainFacts | None:
    """A domain's facts over the 30 days up to its latest report (None: no reports)."""
    days = coarse.domain_days(connection, lambda table: [table.c.domain == domain])
    latest = connection.execute(select(func.max(days.c.day))).scalar_one()
    if latest is None:
        return None
    return domain_facts(connection, domain, latest - dt.timedelta(days=WINDOW_DAYS - 1), latest)


class Computed(NamedTuple):
    detected: list[DomainFinding]
    texts: dict[str, dict[str, list[Any]]]  # fingerprint → {lang: [title, ...]}


def compute(connection: Connection, domain: str,
            report_domains: Collection[str] = ()) -> Computed:
    """One domain's findings over the 30 days up to its latest report, with the evidence of
    its latest live check, in every language: reads only (it can take seconds)."""
    facts = window_facts(connection, domain)
    detected = detect(facts, report_domains=report_domains) if facts is not None else []
    checks = checks_rows.conclusive(connection, domain)
    for finding in detected:
        corroborate(finding, checks)
    if facts is not None:
        weigh(detected, facts)
    texts = _translations(facts, checks, report_domains) if detected and facts else {}
    return Computed(detected, texts)


def settle(connection: Connection, domain: str, generation: int, now: dt.datetime,
           computed: Computed) -> bool:
    """Store findings computed from the facts as they were when the mark had `generation`,
    and take the mark away if it still has it (else a batch came meanwhile: it stays, and the
    domain is computed again). False when another process settled it first."""
    s = t.stale_domains
    mark = connection.execute(select(s.c.gen).where(s.c.domain == domain)).scalar()
    if mark is None:
        return False
    apply(connection, domain, now, computed)
    connection.execute(delete(s).where(s.c.domain == domain, s.c.gen == generation))
    return True


def apply(connection: Connection, domain: str, now: dt.datetime, computed: Computed) -> None:
    """Store computed findings: new ones, changed ones (with an event when the status or
    severity changed), and resolve the ones no longer detected. A short write."""
    detected, texts = computed
    f = t.findings
    stored = {row["fingerprint"]: row for row in connection.execute(
        select(f.c.id, f.c.fingerprint, f.c.status, f.c.severity, f.c.data, f.c.texts)
        .where(f.c.domain == domain)).mappings()}
    seen = set()
    for finding in detected:
        key = fingerprint(finding)
        seen.add(key)
        data = msgspec.json.encode(finding).decode()
        translated = msgspec.json.encode(texts.get(key, {})).decode()
        row = stored.get(key)
        values: dict[str, Any] = {
            "kind": finding.kind, "status": finding.status, "severity": finding.severity,
            "first_seen": finding.first_seen, "last_seen": finding.last_seen, "data": data,
            "texts": translated}
        if row is None:
            new_id = connection.execute(f.insert().values(
                domain=domain, fingerprint=key, updated_at=now, **values)
                .returning(f.c.id)).scalar_one()
            _event(connection, new_id, now, finding.status, finding.severity)
            continue
        if (row["data"], row["status"], row["texts"]) == (data, finding.status, translated):
            continue
        connection.execute(update(f).where(f.c.id == row["id"]).values(updated_at=now, **values))
        if (row["status"], row["severity"]) != (finding.status, finding.severity):
            _event(connection, row["id"], now, finding.status, finding.severity)
    for key, row in stored.items():
        if key not in seen and row["status"] != "resolved":
            connection.execute(update(f).where(f.c.id == row["id"])
                               .values(status="resolved", updated_at=now))
            _event(connection, row["id"], now, "resolved", row["severity"])


def _translations(facts: DomainFacts, checks: list[LiveCheck],
                  report_domains: Collection[str]) -> dict[str, dict[str, list[Any]]]:
    """fingerprint → {lang: [title, explanation, fix, live summary]}, for every language
    but English: stored with the finding, so that reading one in Portuguese costs nothing."""
    out: dict[str, dict[str, list[Any]]] = {}
    for lang in catalog.languages():
        if lang == catalog.DEFAULT_LANG:
            continue
        found = detect(facts, lang, report_domains)
        for each in found:
            corroborate(each, checks, lang)
        weigh(found, facts, lang)
        for each in found:
            out.setdefault(fingerprint(each), {})[lang] = [
                each.title, each.explanation, each.fix, each.live.summary if each.live else ""]
    return out


def _event(connection: Connection, finding_id: int, now: dt.datetime, status: str,
           severity: str) -> None:
    connection.execute(t.finding_events.insert().values(finding=finding_id, at=now,
                                                        status=status, severity=severity))


def history(connection: Connection, domain: str) -> dict[str, list[dict[str, Any]]]:
    """Each stored finding's status changes, by fingerprint, oldest first."""
    f, e = t.findings, t.finding_events
    out: dict[str, list[dict[str, Any]]] = {}
    for row in connection.execute(
            select(f.c.fingerprint, f.c.status, e.c.at, e.c.status, e.c.severity)
            .join(e, e.c.finding == f.c.id).where(f.c.domain == domain)
            .order_by(e.c.at, e.c.id)):
        at = row[2] if row[2].tzinfo else row[2].replace(tzinfo=dt.UTC)
        out.setdefault(row[0], []).append({"at": at, "status": row[3], "severity": row[4]})
    return out


def stored(connection: Connection, domain: str) -> list[tuple[str, str, str]]:
    """(fingerprint, status, data JSON) of a domain's stored findings."""
    f = t.findings
    return [(row[0], row[1], row[2]) for row in connection.execute(
        select(f.c.fingerprint, f.c.status, f.c.data).where(f.c.domain == domain)
        .order_by(f.c.id))]


def localized(connection: Connection, domain: str,
              lang: str) -> list[tuple[int, str, DomainFinding]]:
    """A domain's stored findings as (id, fingerprint, finding), their status the stored
    one, their texts (and live evidence sentence) in `lang`, as stored by `refresh`."""
    f = t.findings
    found = []
    for row in connection.execute(select(f.c.id, f.c.fingerprint, f.c.status, f.c.data,
                                         f.c.texts)
                                  .where(f.c.domain == domain).order_by(f.c.id)):
        finding = msgspec.json.decode(row[3], type=DomainFinding)
        finding.status = row[2]
        texts = msgspec.json.decode(row[4]).get(lang) if row[4] and lang != "en" else None
        if texts:
            finding.title, finding.explanation, finding.fix = texts[0], texts[1], texts[2]
            if finding.live is not None and texts[3]:
                finding.live.summary = texts[3]
        found.append((int(row[0]), row[1], finding))
    return found


def domains(connection: Connection) -> list[str]:
    f = t.findings
    return [row[0] for row in connection.execute(select(f.c.domain).distinct()
                                                 .order_by(f.c.domain))]
