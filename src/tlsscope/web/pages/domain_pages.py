"""The pages about domains: the overview, one domain, one finding."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tlsscope.alert import log
from tlsscope.app import checks, findings, stats
from tlsscope.app.windows import MAX_DAYS, SPARK_MAX_DAYS, parse_day, window
from tlsscope.visible import shortened
from tlsscope.vocab import FindingStatus
from tlsscope.web.ids import RowId
from tlsscope.web.pages.site import (
    BREAKDOWN_ROWS,
    Site,
    words_for,
)


def add(pages: APIRouter, site: Site) -> None:
    @pages.get("/")
    def overview(request: Request,
                 days: int = Query(30, ge=1, le=SPARK_MAX_DAYS)) -> HTMLResponse:
        scope = site.scope_of(request)
        return site.render(request, scope, "overview.html", "overview",
                           cards=stats.overview(site.store, scope, days), days=days)

    @pages.get("/domains/{domain}")
    def domain(request: Request, domain: str, days: int = Query(30, ge=1, le=MAX_DAYS),
               since_text: str = Query("", alias="since"),
               until_text: str = Query("", alias="until"),
               status: str = Query(FindingStatus.OPEN)) -> HTMLResponse:
        scope = site.scope_of(request)
        since, until = parse_day(since_text, "since"), parse_day(until_text, "until")
        name = scope.domain(domain)
        words = words_for(request, scope)
        latest = stats.last_report_day(site.store, scope, name)
        # One window everywhere (app.windows): the N days up to today, unless until is given.
        # A domain whose reports are older is told where they are, not shown another period.
        first, last = window(days, since, until)
        numbers = stats.stats(site.store, scope, name, first, last)
        summary = stats.summary(site.store, scope, name, first, last, words.lang, numbers)
        found = findings.listing(site.store, scope, name, words.lang, status)
        # Tables and charts show the largest rows; the rest is one line (the API has all).
        full = [("mx", numbers.by_mx), ("reporter", numbers.by_reporter),
                ("result_type", numbers.by_result_type), ("policy", numbers.by_policy)]
        breakdowns = [(key, rows[:BREAKDOWN_ROWS]) for key, rows in full]
        hidden = {key: len(rows) - BREAKDOWN_ROWS for key, rows in full
                  if len(rows) > BREAKDOWN_ROWS}
        chart = {
            "labels": {"successful": words("col.successful"), "failed": words("col.failed"),
                       "sessions": words("col.sessions"), "day": words("col.day")},
            "days": [d.day.isoformat() for d in numbers.days],
            "successful": [d.successful for d in numbers.days],
            "failed": [d.failed for d in numbers.days],
            "breakdowns": {key: {"names": [shortened(b.name, 60) for b in rows],
                                 "successful": [b.successful for b in rows],
                                 "failed": [b.failed for b in rows]}
                           for key, rows in breakdowns}}
        return site.render(request, scope, "domain.html", "domain", domain=name, stats=numbers,
                           summary=summary, findings=found, breakdowns=breakdowns, chart=chart,
                           check=checks.latest(site.store, scope, name), days=days, since=first,
                           until=last, custom=since is not None, latest=latest, hidden=hidden,
                           finding_status=status, statuses=findings.STATUSES)

    @pages.get("/findings/{finding_id}")
    def finding(request: Request, finding_id: RowId) -> HTMLResponse:
        scope = site.scope_of(request)
        words = words_for(request, scope)
        view, history = findings.one(site.store, scope, finding_id, words.lang)
        f = view.finding
        chart: dict[str, Any] = {}
        if f.mx_host:
            first = f.last_seen - dt.timedelta(days=29)
            per_day = stats.mx_failures(site.store, scope, f.domain, f.mx_host, first,
                                        f.last_seen)
            days = [first + dt.timedelta(days=n) for n in range(30)]
            chart = {"labels": {"failed": words("col.failed"), "day": words("col.day")},
                     "days": [d.isoformat() for d in days],
                     "failed": [per_day.get(d, 0) for d in days]}
        sent, suppressed = log.of_finding(site.store, scope, finding_id)
        return site.render(request, scope, "finding.html", "finding", view=view, history=history,
                           chart=chart, mx_days=bool(chart), sent=sent, suppressed=suppressed)
