"""When roll-ups and findings are brought up to date: the one place that decides.

Storing a batch only marks what it changed (the roll-ups' dirty pairs, the domains whose
findings are stale); reads never rebuild anything. What rebuilds:
- serve's analyst process, whenever the intake is quiet (tlsscope.analyst);
- serve's writer, when it runs without an analyst and has nothing waiting (tlsscope.intake);
- the CLI: `ingest` after its load, `findings` and `summary` before they read.

Recomputing a domain's findings reads its facts outside any write transaction (seconds for a
big domain); only storing the result takes the write lock, and each change of a stored
finding is handed to the subscribers of `tlsscope.app.events` inside that transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

import msgspec

from tlsscope.analyze import catalog
from tlsscope.analyze.confirm import weigh
from tlsscope.analyze.detectors import DomainFinding, detect
from tlsscope.analyze.live import corroborate
from tlsscope.app import events
from tlsscope.app.findings import fingerprint
from tlsscope.facts import DomainFacts
from tlsscope.live_check import LiveCheck
from tlsscope.store import Store, checks_rows, findings_rows, recheck_rows, rollups
from tlsscope.store.findings_rows import FindingRow

REBUILD_CHUNK = 50  # (domain, day) pairs per write transaction: its advisory locks keep other
# rebuilders from those pairs (store/rollups.py), so it is kept short (~30 ms)
FOLDS_PER_PASS = 10  # transactions of re-check marks folded per analyst pass


def rollups_now(store: Store, domain: str | None = None) -> int:
    """Rebuild the coarse roll-ups marked by the batches stored so far (of one domain, or
    all); returns how many (domain, day) pairs this call rebuilt (another rebuilder may take
    some: see store/rollups.py). One pass over the pairs marked when it starts: under a
    steady intake, pairs marked meanwhile wait for the next call."""
    pairs = store.read(rollups.dirty, domain, limit=100_000)
    return sum(store.write(rollups.rebuild, pairs[start:start + REBUILD_CHUNK])
               for start in range(0, len(pairs), REBUILD_CHUNK))


def findings_now(store: Store, report_domains: Sequence[str] = (), limit: int | None = None,
                 now: dt.datetime | None = None) -> list[str]:
    """Recompute the findings of the domains whose reports or checks changed (at most `limit`
    of them, longest waiting first); returns those domains."""
    now = now or dt.datetime.now(dt.UTC)
    marks = store.read(findings_rows.stale_marks)[:limit]
    for domain, ids in marks:
        # The marks stay while computing: killed half-way, the domain is still marked.
        computed = compute(store, domain, report_domains)
        store.write(_settle, domain, ids, now, computed)
    return [domain for domain, _ in marks]


def reports_seen(store: Store) -> int:
    """The id of the newest stored report: it grows as reports are stored (the analyst waits
    while it does, so as not to take the disk and cores from the writer)."""
    return store.read(checks_rows.last_report_id)


def catch_up(store: Store, report_domains: Sequence[str] = (),
             limit: int | None = None) -> list[str]:
    """Roll-ups, then findings (`limit` domains of them): what a quiet moment is for. The
    writers' re-check marks are folded into the queue too (a few transactions' worth at
    most), so they do not pile up where no node re-checks."""
    for _ in range(FOLDS_PER_PASS):
        if store.write(recheck_rows.fold) < recheck_rows.FOLD_ROWS:
            break
    rollups_now(store)
    return findings_now(store, report_domains, limit)


def _settle(connection: events.Connection, domain: str, marks: Sequence[int],
            now: dt.datetime, computed: list[FindingRow]) -> None:
    changes = findings_rows.settle(connection, domain, marks, now, computed)
    for change in changes or ():
        events.finding_changed(connection, change, now)


def compute(store: Store, domain: str, report_domains: Collection[str] = ()
            ) -> list[FindingRow]:
    """One domain's findings over the 30 days up to its latest report, with the evidence of
    its latest conclusive live checks, in every language, as rows to store: reads only."""
    facts = store.read(findings_rows.window_facts, domain)
    detected = detect(facts, report_domains=report_domains) if facts is not None else []
    checks = store.read(checks_rows.conclusive, domain)
    for finding in detected:
        corroborate(finding, checks)
    if facts is not None:
        weigh(detected, facts)
    texts = _translations(facts, checks, report_domains) if detected and facts else {}
    return [_row(finding, texts.get(fingerprint(finding), {})) for finding in detected]


def _row(finding: DomainFinding, texts: dict[str, list[object]]) -> FindingRow:
    return FindingRow(
        fingerprint=fingerprint(finding), kind=finding.kind, status=finding.status,
        severity=finding.severity, first_seen=finding.first_seen,
        last_seen=finding.last_seen, data=msgspec.json.encode(finding).decode(),
        texts=msgspec.json.encode(texts).decode())


def _translations(facts: DomainFacts, checks: list[LiveCheck],
                  report_domains: Collection[str]) -> dict[str, dict[str, list[object]]]:
    """fingerprint → {lang: [title, explanation, fix, live summary]}, for every language
    but English: stored with the finding, so that reading one in Portuguese costs nothing."""
    out: dict[str, dict[str, list[object]]] = {}
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
