"""The reports: search and list them, read one, download its JSON."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tlsscope.app import reports as stored
from tlsscope.app.scope import visible
from tlsscope.app.windows import parse_day
from tlsscope.web.pages.site import (
    Site,
    words_for,
)

RAW_SHOWN = 200_000  # characters of the report's JSON shown on its page


def add(pages: APIRouter, site: Site) -> None:
    @pages.get("/reports")
    def reports(request: Request, domain: str = "", reporter: str = "", result_type: str = "",
                since_text: str = Query("", alias="since"),
                until_text: str = Query("", alias="until"),
                page: int = Query(1, ge=1, le=100_000)) -> HTMLResponse:
        scope = site.scope_of(request)
        since, until = parse_day(since_text, "since"), parse_day(until_text, "until")
        if domain:
            domain = scope.domain(domain)
        size = 50
        found = stored.listing(site.store, scope, domain=domain or None, reporter=reporter,
                               result_type=result_type, since=since, until=until,
                               limit=size + 1, offset=(page - 1) * size)
        query = urlencode({k: v for k, v in {
            "domain": domain, "reporter": reporter, "result_type": result_type,
            "since": since.isoformat() if since else "",
            "until": until.isoformat() if until else ""}.items() if v})
        return site.render(request, scope, "reports.html", "reports", reports=found[:size],
                      more=len(found) > size, page=page, query=query,
                      domains=[d for d, _ in visible(site.store, scope)],
                      result_types=stored.result_types(site.store, scope),
                      f={"domain": domain, "reporter": reporter, "result_type": result_type,
                         "since": since, "until": until})

    @pages.get("/reports/{key}")
    def report(request: Request, key: str) -> HTMLResponse:
        scope = site.scope_of(request)
        words = words_for(request, scope)
        data = stored.view(site.store, scope, key, words.lang)
        raw = stored.pretty(data["stored"].report).decode()  # the report already read
        if len(raw) > RAW_SHOWN:  # a 48 KB gzip can hold 40 MB of JSON: the rest is a download
            raw = f"{raw[:RAW_SHOWN]}\n… ({len(raw):,} characters: the rest is in the download)"
        return site.render(request, scope, "report.html", "reports", data=data, raw=raw)

    @pages.get("/reports/{key}/raw")
    def report_raw(request: Request, key: str) -> Response:
        scope = site.scope_of(request)
        return Response(stored.raw(site.store, scope, key), media_type="application/json",
                        headers={"content-disposition":
                                 f'attachment; filename="tlsrpt-{key}.json"'})
