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
from starlette.concurrency import run_in_threadpool

from tlsscope.app import accounts, audit, exports, stats
from tlsscope.app import checks as live_checks
from tlsscope.app import findings as stored_findings
from tlsscope.app import quarantine as held_inputs
from tlsscope.app import reports as stored_reports
from tlsscope.app.scope import Scope
from tlsscope.app.windows import MAX_DAYS, window
from tlsscope.check.run import Options
from tlsscope.errors import Invalid, NotFound
from tlsscope.jsonable import encode
from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.vocab import MAX_ROW_ID, FindingStatus
from tlsscope.web import auth, export
from tlsscope.web.i18n import LANGS
from tlsscope.web.ids import RowId

JSON = "application/json"
STATUS_PATTERN = "^(" + "|".join(stored_findings.STATUSES) + ")$"
Since = Annotated[dt.date | None, Query(description="First day (UTC), YYYY-MM-DD.")]
Until = Annotated[dt.date | None, Query(description="Last day (UTC), YYYY-MM-DD; default today.")]
Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="Days back from until, without since.")]
Lang = Annotated[str, Query(description="en or pt.")]


def _json(value: Any, status: int = 200) -> Response:
    return Response(encode(value), status_code=status, media_type=JSON)


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise Invalid("lang", f"lang must be one of {', '.join(LANGS)}")
    return lang


# Declared so that the OpenAPI document (and /docs' "Authorize") knows the scheme; the
# header itself is read by auth.identify, which also accepts the browser's session.
bearer = HTTPBearer(auto_error=False, description="An API token: tls_...")


async def principal(request: Request,
                    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
                    ) -> Scope:
    """The caller's scope; also who acts for the audit log, for the rest of the request
    (async, so that the route, run in a copy of the request's context, sees it: a sync
    dependency would set it in a copy of its own, lost when it returns)."""
    scope = await run_in_threadpool(auth.identify, request.app.state.store, request)
    if scope is None:
        raise HTTPException(401, "an API token is needed: Authorization: Bearer tls_...",
                            headers={"WWW-Authenticate": "Bearer"})
    audit.act_as(audit.user_actor(scope.user, request.client.host if request.client else ""))
    scope.require("read" if request.method in ("GET", "HEAD") else "write")
    return scope


Caller = Annotated[Scope, Depends(principal)]


def router(store: Store, settings: Settings) -> APIRouter:
    from tlsscope.web import api_alerts  # it builds on this module's principal and JSON

    api = APIRouter(prefix="/api/v1", tags=["api"])
    for part in (_domains, _findings_and_reports, _quarantine, _exports, _tokens, _audit,
                 api_alerts.add):
        part(api, store, settings)
    return api


def _domains(api: APIRouter, store: Store, settings: Settings) -> None:

    @api.get("/domains", summary="Domains you can see, with their health over 30 days")
    def domains(scope: Caller, days: Days = 30) -> Response:
        return _json(stats.overview(store, scope, days))

    @api.get("/domains/{domain}/stats", summary="Sessions by day, MX, reporter, result, policy")
    def domain_stats(scope: Caller, domain: str, since: Since = None, until: Until = None,
                     days: Days = 30) -> Response:
        return _json(stats.stats(store, scope, scope.domain(domain),
                                 *window(days, since, until)))

    @api.get("/domains/{domain}/summary", summary="The plain-language summary")
    def summary(scope: Caller, domain: str, since: Since = None, until: Until = None,
                days: Days = 30, lang: Lang = "en") -> Response:
        return _json(stats.summary(store, scope, domain, *window(days, since, until),
                                   _lang(lang)))

    @api.get("/domains/{domain}/checks", summary="Stored live checks, newest first")
    def checks(scope: Caller, domain: str,
               limit: Annotated[int, Query(ge=1, le=500)] = 20) -> Response:
        return _json(live_checks.history(store, scope, domain, limit))

    @api.post("/domains/{domain}/checks", summary="Run a live check now and keep it",
              status_code=201, responses={429: {"description": "too many live checks: one "
                                                "per domain a minute, 20 an hour (Retry-After)"}})
    async def run_check(request: Request, scope: Caller, domain: str,
                        x_csrf_token: Annotated[str | None, Header()] = None) -> Response:
        auth.require_csrf(scope, x_csrf_token)
        scope.require_writer()
        name = scope.domain(domain)
        request.app.state.check_limit.admit(scope.user.id, name)
        result = await asyncio.to_thread(live_checks.check_for, store, Options.of(settings),
                                         scope, name)
        return _json(result, 201)


def _findings_and_reports(api: APIRouter, store: Store, settings: Settings) -> None:
    @api.get("/findings", summary="Findings, with evidence and live-check evidence")
    def findings(scope: Caller, domain: str | None = None,
                 status: Annotated[str, Query(pattern=STATUS_PATTERN)]
                 = FindingStatus.OPEN, lang: Lang = "en") -> Response:
        return _json(stored_findings.listing(store, scope, domain, _lang(lang), status))

    @api.get("/findings/{finding_id}", summary="One finding and its status history")
    def finding(scope: Caller, finding_id: RowId, lang: Lang = "en") -> Response:
        view, history = stored_findings.one(store, scope, finding_id, _lang(lang))
        return _json({"id": view.id, "finding": view.finding, "history": history})

    @api.get("/reports", summary="Reports, newest first, filtered and paginated")
    def reports(scope: Caller, domain: str | None = None, reporter: str = "",
                result_type: str = "", since: Since = None, until: Until = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0) -> Response:
        return _json(stored_reports.listing(store, scope, domain=domain, reporter=reporter,
                                     result_type=result_type, since=since, until=until,
                                     limit=limit, offset=offset))

    @api.get("/reports/{key}", summary="One report: reading, policies, warnings, DKIM, "
             "provenance")
    def report(scope: Caller, key: str, lang: Lang = "en") -> Response:
        data = stored_reports.view(store, scope, key, _lang(lang))
        stored = data["stored"]
        return _json({"key": key, "domains": data["domains"], "report": stored.report,
                      "reading": data["reading"], "warnings": stored.warnings,
                      "extras": stored.extras, "source": stored.source,
                      "repeats": stored.repeats, "stored_at": stored.stored_at,
                      "provenance": stored.provenance})

    @api.get("/reports/{key}/raw", summary="The report's JSON")
    def report_raw(scope: Caller, key: str) -> Response:
        return Response(stored_reports.raw(store, scope, key), media_type=JSON)


def _quarantine(api: APIRouter, store: Store, settings: Settings) -> None:
    @api.get("/quarantine", summary="Rejected inputs and why (admins)")
    def quarantine(scope: Caller) -> Response:
        return _json(held_inputs.held(store, scope))

    @api.get("/quarantine/{digest}/raw", summary="A rejected input, byte for byte (admins)")
    def quarantine_raw(scope: Caller, digest: str) -> Response:
        return Response(held_inputs.raw(store, scope, digest),
                        media_type="application/octet-stream")

    @api.post("/quarantine/{digest}/reingest", summary="Read a rejected input again (admins)")
    async def quarantine_reingest(scope: Caller, digest: str,
                                  x_csrf_token: Annotated[str | None, Header()] = None
                                  ) -> Response:
        auth.require_csrf(scope, x_csrf_token)
        scope.require_admin()
        outcome = await asyncio.to_thread(held_inputs.reingest, store, settings, scope,
                                          digest)
        return _json({"outcome": outcome})


def _exports(api: APIRouter, store: Store, settings: Settings) -> None:
    @api.get("/export/{what}.{fmt}", summary="Export reports, failures or findings")
    def export_(scope: Caller, what: str, fmt: str, domain: str | None = None,
                reporter: str = "", result_type: str = "", since: Since = None,
                until: Until = None) -> Response:
        if what not in exports.KINDS or fmt not in ("csv", "json"):
            raise NotFound()
        name = scope.domain(domain) if domain else None
        header, rows = exports.rows(store, scope, what, name, reporter, result_type, since,
                                    until, fmt)
        disposition = {"content-disposition": f'attachment; filename="tlsscope-{what}.{fmt}"'}
        if fmt == "csv":
            return Response(export.to_csv(header, rows), media_type="text/csv; charset=utf-8",
                            headers=disposition)
        return Response(msgspec.json.encode([dict(zip(header, row, strict=True))
                                             for row in rows]),
                        media_type=JSON, headers=disposition)


def _tokens(api: APIRouter, store: Store, settings: Settings) -> None:
    @api.get("/tokens", summary="Every API token, whose, its scope and expiry (admins)")
    def tokens(scope: Caller) -> Response:
        scope.require_admin()
        scope.require("admin")
        return _json(accounts.tokens(store, None))

    @api.delete("/tokens/{token_id}", summary="Revoke any API token (admins)", status_code=204)
    def revoke(scope: Caller, token_id: RowId,
               x_csrf_token: Annotated[str | None, Header()] = None) -> Response:
        auth.require_csrf(scope, x_csrf_token)
        scope.require_admin()
        scope.require("admin")
        accounts.revoke(store, None, token_id)
        return Response(status_code=204)


def _audit(api: APIRouter, store: Store, settings: Settings) -> None:
    @api.get("/audit", summary="The audit log, newest first (admins; read only: the actions "
             "themselves write it)")
    def audit_log(scope: Caller, limit: Annotated[int, Query(ge=1, le=audit.MAX_LISTED)] = 100,
                  action: Annotated[str, Query(max_length=64, description="An action "
                                               "(login.failed) or its family (login).")] = "",
                  since: Annotated[dt.datetime | None, Query(description="From this time "
                                                             "(ISO 8601; UTC unless it says)."
                                                             )] = None,
                  before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description=(
                      "Entries older than this id (the next page)."))] = None) -> Response:
        scope.require_admin()
        scope.require("admin")
        return _json(audit.entries(store, scope, limit, action=action, since=since,
                                   before=before))
