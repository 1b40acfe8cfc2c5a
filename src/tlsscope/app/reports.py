"""Stored reports: listed and filtered within the user's scope, one read in plain language,
and its JSON. A report about several tenants' domains is for admins only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from tlsscope.analyze.reading import read_report
from tlsscope.app.scope import Scope
from tlsscope.errors import Invalid, NotFound
from tlsscope.report import Report
from tlsscope.store import Store, browse, queries
from tlsscope.store.models import ReportSummary, StoredReport

PAGE_MAX = 500


def listing(store: Store, scope: Scope, *, domain: str | None = None, reporter: str = "",
            result_type: str = "", since: dt.date | None = None, until: dt.date | None = None,
            limit: int = 50, offset: int = 0) -> list[ReportSummary]:
    """Reports, newest day first, whose every domain the user may see."""
    name = scope.domain(domain) if domain else None
    return store.read(browse.reports, scope.domains, domain=name, reporter=reporter,
                      result_type=result_type, since=since, until=until, limit=limit,
                      offset=offset)


def result_types(store: Store, scope: Scope) -> list[str]:
    """The result types of the visible failures (a filter's choices)."""
    return store.read(browse.result_types, scope.domains)


def find(store: Store, scope: Scope, key_prefix: str) -> str:
    """The one report whose key starts so: `NotFound` for none, `Invalid` for several."""
    keys = [key for key in store.read(queries.find_report, key_prefix)
            if _visible(scope, store.read(browse.report_domains, key))]
    if not keys:
        raise NotFound(f"no stored report has a key starting with {key_prefix!r}")
    if len(keys) > 1:
        raise Invalid("report", f"{key_prefix!r} matches several reports; give more characters")
    return keys[0]


def _visible(scope: Scope, domains: list[str]) -> bool:
    """Admins see every report; others those whose every domain they may see."""
    return scope.domains is None or (bool(domains) and all(scope.allows(d) for d in domains))


def stored(store: Store, scope: Scope, key: str) -> tuple[list[str], StoredReport]:
    """A report's domains and the report as stored; `NotFound` unless the user may see every
    one of its domains."""
    domains = store.read(browse.report_domains, key)
    found = store.read(queries.get_report, key) if _visible(scope, domains) else None
    if found is None:
        raise NotFound()
    return domains, found


def view(store: Store, scope: Scope, key: str, lang: str) -> dict[str, Any]:
    """A report with its plain-language reading."""
    domains, found = stored(store, scope, key)
    return {"key": key, "domains": domains, "stored": found,
            "reading": read_report(found.report, found.counted, lang)}


def raw(store: Store, scope: Scope, key: str) -> bytes:
    """The report's JSON (RFC 8460 §4 names, pretty)."""
    return pretty(stored(store, scope, key)[1].report)


def pretty(report: Report) -> bytes:
    """A report as JSON with RFC 8460 §4 names, indented."""
    return msgspec.json.format(msgspec.json.encode(report), indent=2)
