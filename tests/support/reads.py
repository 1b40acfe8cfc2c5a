"""Reading a store in tests: its rows functions, called as the application layer calls them
(`store.read(fn, ...)`), with the defaults the tests use."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from tlsscope.app import quarantine as held
from tlsscope.app.scope import OPERATOR
from tlsscope.facts import DomainFacts, DomainStats, FailureGroup
from tlsscope.store import Store, queries
from tlsscope.store import inputs as input_rows
from tlsscope.store.models import ReportSummary, StoredInput, StoredReport


def reports(store: Store, *, domain: str | None = None, since: dt.date | None = None,
            until: dt.date | None = None, limit: int = 100,
            offset: int = 0) -> list[ReportSummary]:
    return store.read(queries.list_reports, domain=domain, since=since, until=until,
                      limit=limit, offset=offset)


def find(store: Store, key_prefix: str) -> list[str]:
    return store.read(queries.find_report, key_prefix)


def report(store: Store, key: str) -> StoredReport | None:
    return store.read(queries.get_report, key)


def quarantine(store: Store) -> list[StoredInput]:
    return store.read(queries.quarantine)


def raw(store: Store, digest: str) -> bytes | None:
    """Any stored input's bytes (None: unknown, or dropped to the quarantine's budget)."""
    found = store.read(input_rows.stored, digest)
    return None if found is None else found[1]


def inputs(store: Store) -> Iterator[tuple[str, str, bytes]]:
    return held.stored_inputs(store)


def stats(store: Store, domain: str | None, since: dt.date, until: dt.date) -> DomainStats:
    return store.read(queries.stats, domain, since, until)


def failures(store: Store, domain: str, since: dt.date, until: dt.date) -> list[FailureGroup]:
    return store.read(queries.failure_groups, domain, since, until)


def facts(store: Store, domain: str, since: dt.date, until: dt.date) -> DomainFacts:
    return store.read(queries.domain_facts, domain, since, until)


__all__ = ["OPERATOR", "facts", "failures", "find", "inputs", "quarantine", "raw", "report",
           "reports", "stats"]
