"""The JSON API under /api/v1: everything the pages show, for scripts and other tools.

Authentication: `Authorization: Bearer tls_...` (an API token, made on the Settings page
or with `tlsscope users token`), or the browser's session (then changes need the CSRF token in
`X-CSRF-Token`). A domain, report or finding outside the caller's organisation is a 404.
A token's scope limits it: `read` for GET, `write` for changes (live checks, re-reading),
`admin` for accounts (tokens); the user's role limits it further.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tlsscope.jsonable import encode
from tlsscope.settings import Settings
from tlsscope.store import Store, browse
from tlsscope.store import accounts as account_rows
from tlsscope.web import auth, export, tools, views
from tlsscope.web.auth import Scope
from tlsscope.web.i18n import LANGS

JSON = "application/json"
Since = Annotated[dt.date | None, Query(description="First day (UTC), YYYY-MM-DD.")]
Until = Annotated[dt.date | None, Query(description="Last day (UTC), YYYY-MM-DD; default today.")]
Days = Annotated[int, Query(ge=1, le=3660, description="Days back from until, without since.")]
Lang = Annotated[str, Query(description="en or pt.")]


def _json(value: Any, status: int = 200) -> Response:
    return Response(encode(value), status_code=status, media_type=JSON)


def _window(since: dt.date | None, until: dt.date | None, days: int) -> tuple[dt.date, dt.date]:
    first, last = views.window(days, until)
    first = since or first
    if first > last:
        raise HTTPException(422, "since must not be after until")
    return first, last


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise HTTPException(422, f"lang must be one of {', '.join(LANGS)}")
    return lang


# Declared so that the OpenAPI document (and /docs' "Authorize") knows the scheme; the
# header itself is read by auth.identify, which also accepts the browser's session.
bearer = HTTPBearer(auto_error=False, description="An API token: tls_...")


def principal(request: Request,
              _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Scope:
    scope = auth.identify(request.app.state.store, request)
    if scope is None:
        raise HTTPException(401, "an API token is needed: Authorization: Bearer tls_...",
                            headers={"WWW-Authenticate": "Bearer"})
    scope.require("read" if request.method in ("GET", "HEAD") else "write")
    return scope


Caller = Annotated[Scope, Depends(principal)]


def router(store: Store, settings: Settings) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["api"])
    for part in (_domains, _findings_and_reports, _quarantine, _exports, _tokens):
        part(api, store, settings)
    return api


def _domains(api: APIRouter, store: Store, settings: Settings) -> None:

    @api.get("/domains", summary="Domains you can see, with their health over 30 days")
    def domains(scope: Caller, days: Days = 30) -> Response:
        return _json(views.overview(store, scope, days))

    @api.get("/domains/{domain}/stats", summary="Sessions by day, MX, reporter, result, policy")
    def stats(scope: Caller, domain: str, since: Since = None, until: Until = None,
              days: Days = 30) -> Response:
        return _json(views.stats(store, scope, domain, *_window(since, until, days)))

    @api.get("/domains/{domain}/summary", summary="The plain-language summary")
    def summary(scope: Caller, domain: str, since: Since = None, until: Until = None,
                days: Days = 30, lang: Lang = "en") -> Response:
        return _json(views.summary(store, scope, domain, *_window(since, until, days),
                                   _lang(lang)))

    @api.get("/domains/{domain}/checks", summary="Stored live checks, newest first")
    def checks(scope: Caller, domain: str,
               limit: Annotated[int, Query(ge=1, le=500)] = 20) -> Response:
        return _json(store.check_history(scope.check(domain), limit))

    @api.post("/domains/{domain}/checks", summary="Run a live check now and keep it",
              status_code=201, responses={429: {"description": "too many live checks: one "
                                                "per domain a minute, 20 an hour (Retry-After)"}})
    async def run_check(request: Request, scope: Caller, domain: str,
                        x_csrf_token: Annotated[str | None, Header()] = None) -> Response:
        auth.require_csrf(scope, x_csrf_token)
        views.require_writer(scope)
        name = scope.check(domain)
        request.app.state.check_limit.check(scope.user.id, name)
        result = await asyncio.to_thread(tools.live_check, store, settings, name, True)
        return _json(result, 201)


def _findings_and_reports(api: APIRouter, store: Store, settings: Settings) -> None:
    @api.get("/findings", summary="Findings, with evidence and live-check evidence")
    def findings(scope: Caller, domain: str | None = None,
                 status: Annotated[str, Query(pattern=views.STATUS_PATTERN)]
                 = "open", lang: Lang = "en") -> Response:
        return _json(views.findings(store, scope, domain, _lang(lang), status))

    @api.get("/findings/{finding_id}", summary="One finding and its status history")
    def finding(scope: Caller, finding_id: int, lang: Lang = "en") -> Response:
        view, history = views.finding(store, scope, finding_id, _lang(lang))
        return _json({"id": view.id, "finding": view.finding, "history": history})

    @api.get("/reports", summary="Reports, newest first, filtered and paginated")
    def reports(scope: Caller, domain: str | None = None, reporter: str = "",
                result_type: str = "", since: Since = None, until: Until = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Annotated[int, Query(ge=0)] = 0) -> Response:
        name = scope.check(domain) if domain else None
        return _json(store.read(browse.reports, scope.domains, domain=name, reporter=reporter,
                                result_type=result_type, since=since, until=until,
                                limit=limit, offset=offset))

    @api.get("/reports/{key}", summary="One report: reading, policies, warnings, DKIM, "
             "provenance")
    def report(scope: Caller, key: str, lang: Lang = "en") -> Response:
        data = views.report(store, scope, key, _lang(lang))
        stored = data["stored"]
        return _json({"key": key, "domains": data["domains"], "report": stored.report,
                      "reading": data["reading"], "warnings": stored.warnings,
                      "extras": stored.extras, "source": stored.source,
                      "repeats": stored.repeats, "stored_at": stored.stored_at,
                      "provenance": stored.provenance})

    @api.get("/reports/{key}/raw", summary="The report's JSON")
    def report_raw(scope: Caller, key: str) -> Response:
        return Response(views.raw_report(store, scope, key), media_type=JSON)


def _quarantine(api: APIRouter, store: Store, settings: Settings) -> None:
    @api.get("/quarantine", summary="Rejected inputs and why (admins)")
    def quarantine(scope: Caller) -> Response:
        views.require_admin(scope)
        return _json(store.quarantine())

    @api.get("/quarantine/{digest}/raw", summary="A rejected input, byte for byte (admins)")
    def quarantine_raw(scope: Caller, digest: str) -> Response:
        views.require_admin(scope)
        held = {i.sha256 for i in store.quarantine()}
        data = store.raw(digest) if digest in held else None
        if data is None:
            raise HTTPException(404, "not found")
        return Response(data, media_type="application/octet-stream")

    @api.post("/quarantine/{digest}/reingest", summary="Read a rejected input again (admins)")
    async def quarantine_reingest(scope: Caller, digest: str,
                                  x_csrf_token: Annotated[str | None, Header()] = None
                                  ) -> Response:
        auth.require_csrf(scope, x_csrf_token)
        views.require_admin(scope)
        outcome = await asyncio.to_thread(tools.reingest, store, settings, digest)
        if outcome == "missing":
            raise HTTPException(404, "not found")
        return _json({"outcome": outcome})


def _exports(api: APIRouter, store: Store, settings: Settings) -> None:
    @api.get("/export/{what}.{fmt}", summary="Export reports, failures or findings")
    def export_(scope: Caller, what: str, fmt: str, domain: str | None = None,
                reporter: str = "", result_type: str = "", since: Since = None,
                until: Until = None) -> Response:
        if what not in ("reports", "failures", "findings") or fmt not in ("csv", "json"):
            raise HTTPException(404, "not found")
        name = scope.check(domain) if domain else None
        header, rows = _rows(scope, what, name, reporter, result_type, since, until)
        disposition = {"content-disposition": f'attachment; filename="tlsscope-{what}.{fmt}"'}
        if fmt == "csv":
            return Response(export.to_csv(header, rows), media_type="text/csv; charset=utf-8",
                            headers=disposition)
        return Response(msgspec.json.encode([dict(zip(header, row, strict=True))
                                             for row in rows]),
                        media_type=JSON, headers=disposition)

    def _rows(scope: Scope, what: str, domain: str | None, reporter: str, result_type: str,
              since: dt.date | None,
              until: dt.date | None) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        if what == "reports":
            found = store.read(browse.reports, scope.domains, domain=domain, reporter=reporter,
                               result_type=result_type, since=since, until=until,
                               limit=browse.EXPORT_LIMIT)
            return export.REPORT_COLUMNS, [
                (r.key, r.day.isoformat(), r.organization_name, r.report_id,
                 " ".join(r.domains), r.successful, r.failed, r.warnings,
                 r.start.isoformat(), r.end.isoformat()) for r in found]
        if what == "failures":
            rows = store.read(browse.failure_rows, scope.domains, domain=domain,
                              reporter=reporter, result_type=result_type, since=since,
                              until=until)
            return export.FAILURE_COLUMNS, [
                (row[0], row[1].isoformat(), *row[2:]) for row in rows]
        found_views = views.findings(store, scope, domain, "en", "all")
        out = []
        for v in found_views:
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
        return export.FINDING_COLUMNS, out


def _tokens(api: APIRouter, store: Store, settings: Settings) -> None:
    @api.get("/tokens", summary="Every API token, whose, its scope and expiry (admins)")
    def tokens(scope: Caller) -> Response:
        views.require_admin(scope)
        scope.require("admin")
        return _json(store.read(account_rows.tokens, None))

    @api.delete("/tokens/{token_id}", summary="Revoke any API token (admins)", status_code=204)
    def revoke(scope: Caller, token_id: int,
               x_csrf_token: Annotated[str | None, Header()] = None) -> Response:
        auth.require_csrf(scope, x_csrf_token)
        views.require_admin(scope)
        scope.require("admin")
        if not store.write(account_rows.drop_token, None, token_id):
            raise HTTPException(404, "not found")
        return Response(status_code=204)
