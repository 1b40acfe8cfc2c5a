"""The rows of the exports (reports, failure details, findings), within the user's scope and
filters; web/export.py writes them as CSV, the API as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tlsscope.app import audit, findings, reports
from tlsscope.app.scope import Scope
from tlsscope.store import Store, browse

REPORT_COLUMNS = ("key", "day", "organization_name", "report_id", "domains", "successful",
                  "failed", "warnings", "start", "end")
FAILURE_COLUMNS = ("report_key", "day", "organization_name", "policy_type", "policy_domain",
                   "result_type", "failed_session_count", "receiving_mx_hostname",
                   "receiving_mx_helo", "receiving_ip", "sending_mta_ip",
                   "failure_reason_code", "additional_information")
FINDING_COLUMNS = ("id", "domain", "kind", "severity", "status", "mx_host", "receiving_ip",
                   "result_type", "sessions", "first_seen", "last_seen", "reporters", "title",
                   "live_verdict")
KINDS = ("reports", "failures", "findings")
Rows = tuple[tuple[str, ...], list[tuple[Any, ...]]]


def rows(store: Store, scope: Scope, what: str, domain: str | None, reporter: str,
         result_type: str, since: dt.date | None, until: dt.date | None,
         fmt: str = "") -> Rows:
    """(header, rows) of one export (recorded in the audit log: who exported what)."""
    header, found = _rows(store, scope, what, domain, reporter, result_type, since, until)
    audit.record(store, audit.Change("export", what, {
        "format": fmt, "domain": domain, "reporter": reporter, "result_type": result_type,
        "since": since, "until": until, "rows": len(found)}))
    return header, found


def _rows(store: Store, scope: Scope, what: str, domain: str | None, reporter: str,
          result_type: str, since: dt.date | None, until: dt.date | None) -> Rows:
    if what == "reports":
        found = reports.listing(store, scope, domain=domain, reporter=reporter,
                                result_type=result_type, since=since, until=until,
                                limit=browse.EXPORT_LIMIT)
        return REPORT_COLUMNS, [
            (r.key, r.day.isoformat(), r.organization_name, r.report_id,
             " ".join(r.domains), r.successful, r.failed, r.warnings,
             r.start.isoformat(), r.end.isoformat()) for r in found]
    if what == "failures":
        name = scope.domain(domain) if domain else None
        details = store.read(browse.failure_rows, scope.domains, domain=name, reporter=reporter,
                             result_type=result_type, since=since, until=until)
        return FAILURE_COLUMNS, [(row[0], row[1].isoformat(), *row[2:]) for row in details]
    return FINDING_COLUMNS, _findings(store, scope, domain, reporter, result_type, since, until)


def _findings(store: Store, scope: Scope, domain: str | None, reporter: str,
              result_type: str, since: dt.date | None,
              until: dt.date | None) -> list[tuple[Any, ...]]:
    out = []
    for v in findings.listing(store, scope, domain, "en", findings.ALL):
        f = v.finding
        if result_type and f.result_type != result_type:
            continue
        if reporter and not any(reporter.lower() in r.lower() for r in f.reporters):
            continue
        if (since and f.last_seen < since) or (until and f.first_seen > until):
            continue
        out.append((v.id, f.domain, f.kind, f.severity, f.status, f.mx_host,
                    f.receiving_ip, f.result_type, f.sessions, f.first_seen.isoformat(),
                    f.last_seen.isoformat(), " ".join(f.reporters), f.title,
                    f.live.verdict if f.live else ""))
    return out
