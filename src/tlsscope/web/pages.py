"""The dashboard's HTML pages (Jinja2, autoescaped; htmx for the partial updates).

Every page needs a session (else: to /login); every form needs the session's CSRF token;
everything about a domain outside the user's scope answers 404.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import msgspec
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tlsscope import __version__
from tlsscope.settings import Settings
from tlsscope.store import Store, browse
from tlsscope.store import accounts as account_rows
from tlsscope.web import auth, tools, views
from tlsscope.web.auth import Scope
from tlsscope.web.i18n import LANGS, Words, choose

LANG_COOKIE = "tlsscope_lang"
BREAKDOWN_ROWS = 20  # rows of a domain page's breakdown tables
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def rate_class(rate: float) -> str:
    return "good" if rate >= 99.0 else "warn" if rate >= 95.0 else "bad"


def few(names: list[str], words: Words, shown: int = 5) -> str:
    """"A, B, C, D, E and 1,995 more": a finding seen by thousands stays one line."""
    if len(names) <= shown:
        return ", ".join(names)
    return words("finding.and_more", names=", ".join(names[:shown]),
                 n=words.number(len(names) - shown))


templates.env.globals.update(version=__version__, severities=views.SEVERITIES,
                             rate_class=rate_class, few=few)


class LoginRequired(Exception):
    def __init__(self, path: str) -> None:
        self.path = path


def words_for(request: Request, scope: Scope | None) -> Words:
    user_lang = scope.user.lang if scope else request.cookies.get(LANG_COOKIE, "")
    return Words(choose(user_lang, request.headers.get("accept-language", "")))


def safe_next(value: str) -> str:
    """Only a path on this site (no `//host`, no scheme) may be a redirect target."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def day_param(value: str, name: str) -> dt.date | None:
    """A date from a form field: empty is none; anything else must be YYYY-MM-DD."""
    if not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(400, f"{name}: {value[:40]!r} is not a date (YYYY-MM-DD)") from None


def router(store: Store, settings: Settings) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    def scope_of(request: Request) -> Scope:
        scope = auth.identify(store, request)
        if scope is None:
            raise LoginRequired(request.url.path + (f"?{request.url.query}"
                                                    if request.url.query else ""))
        return scope

    def render(request: Request, scope: Scope | None, name: str, nav: str = "",
               status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request, name, {"scope": scope, "w": words_for(request, scope), "nav": nav,
                            **context}, status_code=status)

    def changed(request: Request, csrf: str) -> Scope:
        scope = scope_of(request)
        auth.require_csrf(scope, csrf)
        return scope

    # logging in ---------------------------------------------------------------------------

    @pages.get("/login")
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or auth.new_secret()
        response = render(request, None, "login.html", login_csrf=token,
                          next=safe_next(next), email="", error="")
        response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    @pages.post("/login")
    async def login(request: Request, email: str = Form(""), password: str = Form(""),
                    csrf: str = Form(""), next: str = Form("/")) -> Response:
        cookie = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
        if not cookie or not auth.same(cookie, csrf):
            raise HTTPException(403, "missing or wrong CSRF token: reload the login page")
        user = await asyncio.to_thread(auth.check_password, store, email, password)
        if user is None:
            words = words_for(request, None)
            return render(request, None, "login.html", status=401, login_csrf=cookie,
                          next=safe_next(next), email=email, error=words("login.failed"))
        token = auth.start_session(store, user)
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(auth.COOKIE, token, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https",
                            max_age=auth.SESSION_DAYS * 86400)
        response.delete_cookie(auth.LOGIN_CSRF_COOKIE)
        return response

    @pages.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        changed(request, csrf)
        store.write(account_rows.drop_session, auth.digest(request.cookies[auth.COOKIE]))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.COOKIE)
        return response

    @pages.post("/settings/lang")
    def set_lang(request: Request, lang: str = Form("en"), csrf: str = Form(""),
                 next: str = Form("/")) -> Response:
        scope = changed(request, csrf)
        if lang not in LANGS:
            raise HTTPException(400, f"lang must be one of {', '.join(LANGS)}")
        store.write(account_rows.set_lang, scope.user.id, lang)
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
        return response

    # reading ------------------------------------------------------------------------------

    @pages.get("/")
    def overview(request: Request, days: int = Query(30, ge=1, le=366)) -> HTMLResponse:
        scope = scope_of(request)
        return render(request, scope, "overview.html", "overview",
                      cards=views.overview(store, scope, days), days=days)

    @pages.get("/domains/{domain}")
    def domain(request: Request, domain: str, days: int = Query(30, ge=1, le=3660),
               since_text: str = Query("", alias="since"),
               until_text: str = Query("", alias="until")) -> HTMLResponse:
        scope = scope_of(request)
        since, until = day_param(since_text, "since"), day_param(until_text, "until")
        name = scope.check(domain)
        words = words_for(request, scope)
        store.fresh(name)
        latest = store.read(browse.last_report_days, [name]).get(name)
        if until is None and since is None and latest is not None and latest < views.today():
            until = latest  # old reports only: show their period, not an empty one
        first, last = views.window(days, until)
        if since is not None:
            first = since
        if first > last:
            raise HTTPException(400, "since must not be after until")
        stats = store.stats(name, first, last)
        summary = views.summary(store, scope, name, first, last, words.lang, stats)
        found = views.findings(store, scope, name, words.lang)
        # Tables and charts show the largest rows; the rest is one line (the API has all).
        full = [("mx", stats.by_mx), ("reporter", stats.by_reporter),
                ("result_type", stats.by_result_type), ("policy", stats.by_policy)]
        breakdowns = [(key, rows[:BREAKDOWN_ROWS]) for key, rows in full]
        hidden = {key: len(rows) - BREAKDOWN_ROWS for key, rows in full
                  if len(rows) > BREAKDOWN_ROWS}
        chart = {
            "labels": {"successful": words("col.successful"), "failed": words("col.failed"),
                       "sessions": words("col.sessions"), "day": words("col.day")},
            "days": [d.day.isoformat() for d in stats.days],
            "successful": [d.successful for d in stats.days],
            "failed": [d.failed for d in stats.days],
            "breakdowns": {key: {"names": [b.name for b in rows],
                                 "successful": [b.successful for b in rows],
                                 "failed": [b.failed for b in rows]}
                           for key, rows in breakdowns}}
        return render(request, scope, "domain.html", "domain", domain=name, stats=stats,
                      summary=summary, findings=found, breakdowns=breakdowns, chart=chart,
                      check=store.latest_check(name), days=days, since=first, until=last,
                      custom=since is not None, latest=latest, hidden=hidden)

    @pages.get("/findings/{finding_id}")
    def finding(request: Request, finding_id: int) -> HTMLResponse:
        scope = scope_of(request)
        words = words_for(request, scope)
        view, history = views.finding(store, scope, finding_id, words.lang)
        f = view.finding
        chart: dict[str, Any] = {}
        if f.mx_host:
            first = f.last_seen - dt.timedelta(days=29)
            per_day = dict(store.read(browse.mx_failures, f.domain, f.mx_host, first,
                                      f.last_seen))
            days = [first + dt.timedelta(days=n) for n in range(30)]
            chart = {"labels": {"failed": words("col.failed"), "day": words("col.day")},
                     "days": [d.isoformat() for d in days],
                     "failed": [per_day.get(d, 0) for d in days]}
        return render(request, scope, "finding.html", "finding", view=view, history=history,
                      chart=chart, mx_days=bool(chart))

    @pages.get("/reports")
    def reports(request: Request, domain: str = "", reporter: str = "", result_type: str = "",
                since_text: str = Query("", alias="since"),
                until_text: str = Query("", alias="until"),
                page: int = Query(1, ge=1, le=100_000)) -> HTMLResponse:
        scope = scope_of(request)
        since, until = day_param(since_text, "since"), day_param(until_text, "until")
        if domain:
            domain = scope.check(domain)
        size = 50
        found = store.read(browse.reports, scope.domains, domain=domain or None,
                           reporter=reporter, result_type=result_type, since=since,
                           until=until, limit=size + 1, offset=(page - 1) * size)
        query = urlencode({k: v for k, v in {
            "domain": domain, "reporter": reporter, "result_type": result_type,
            "since": since.isoformat() if since else "",
            "until": until.isoformat() if until else ""}.items() if v})
        return render(request, scope, "reports.html", "reports", reports=found[:size],
                      more=len(found) > size, page=page, query=query,
                      domains=[d for d, _ in views.visible(store, scope)],
                      result_types=store.read(browse.result_types, scope.domains),
                      f={"domain": domain, "reporter": reporter, "result_type": result_type,
                         "since": since, "until": until})

    @pages.get("/reports/{key}")
    def report(request: Request, key: str) -> HTMLResponse:
        scope = scope_of(request)
        words = words_for(request, scope)
        data = views.report(store, scope, key, words.lang)
        raw = views.raw_report(store, scope, key).decode()
        return render(request, scope, "report.html", "reports", data=data, raw=raw)

    @pages.get("/reports/{key}/raw")
    def report_raw(request: Request, key: str) -> Response:
        scope = scope_of(request)
        return Response(views.raw_report(store, scope, key), media_type="application/json",
                        headers={"content-disposition":
                                 f'attachment; filename="tlsrpt-{key}.json"'})

    # admin: quarantine --------------------------------------------------------------------

    @pages.get("/quarantine")
    def quarantine(request: Request, message: str = "") -> HTMLResponse:
        scope = scope_of(request)
        views.require_admin(scope)
        return render(request, scope, "quarantine.html", "quarantine",
                      inputs=store.quarantine(), message=message)

    @pages.get("/quarantine/{digest}/raw")
    def quarantine_raw(request: Request, digest: str) -> Response:
        views.require_admin(scope_of(request))
        data = store.raw(digest) if digest in {i.sha256 for i in store.quarantine()} else None
        if data is None:
            raise HTTPException(404, "not found")
        return Response(data, media_type="application/octet-stream", headers={
            "content-disposition": f'attachment; filename="{digest[:16]}.input"'})

    @pages.post("/quarantine/{digest}/reingest")
    async def quarantine_reingest(request: Request, digest: str,
                                  csrf: str = Form("")) -> Response:
        scope = changed(request, csrf)
        views.require_admin(scope)
        outcome = await asyncio.to_thread(tools.reingest, store, settings, digest)
        words = words_for(request, scope)
        text = words(f"quarantine.{outcome}")
        return RedirectResponse(f"/quarantine?{urlencode({'message': text})}",
                                status_code=303)

    # tools --------------------------------------------------------------------------------

    @pages.get("/tools")
    def tools_page(request: Request) -> HTMLResponse:
        scope = scope_of(request)
        rua = tools.rua_for(settings)
        return render(request, scope, "tools.html", "tools", rua=rua,
                      record=tools.tlsrpt_text(rua) if rua else "", record_out=None,
                      check=None)

    @pages.post("/tools/record")
    def tools_record(request: Request, action: str = Form(""), rua: str = Form(""),
                     mx: str = Form(""), mode: str = Form("testing"), text: str = Form(""),
                     csrf: str = Form("")) -> HTMLResponse:
        scope = changed(request, csrf)
        out = tools.record(action, rua, mx, mode, text, words_for(request, scope))
        return render(request, scope, "record_out.html", record_out=out)

    @pages.post("/tools/check")
    async def tools_check(request: Request, domain: str = Form(""),
                          csrf: str = Form("")) -> HTMLResponse:
        scope = changed(request, csrf)
        views.require_writer(scope)
        name = domain.strip().lower().rstrip(".")
        if not name or "." not in name or len(name) > 253:
            raise HTTPException(400, "domain: give a domain name such as example.com")
        result = await asyncio.to_thread(tools.live_check, store, settings, name,
                                         scope.allows(name))
        return render(request, scope, "check_result.html", check=result)

    # settings -----------------------------------------------------------------------------

    def settings_page(request: Request, scope: Scope, **extra: Any) -> HTMLResponse:
        admin = scope.user.is_admin
        return render(
            request, scope, "settings.html", "settings",
            tokens=store.read(account_rows.tokens, scope.user.id),
            domains=store.read(account_rows.all_domains) if admin else [],
            users=store.read(account_rows.users) if admin else [],
            organisations=store.read(account_rows.organisations) if admin else [],
            receivers=store.read(browse.receivers) if admin else [],
            **{"message": "", "new_token": "", **extra})

    @pages.get("/settings")
    def settings_get(request: Request) -> HTMLResponse:
        return settings_page(request, scope_of(request))

    @pages.post("/settings/tokens")
    def token_add(request: Request, name: str = Form(""), csrf: str = Form("")) -> HTMLResponse:
        scope = changed(request, csrf)
        token = auth.new_token(store, scope.user, name.strip()[:100] or "token")
        return settings_page(request, scope, new_token=token)

    @pages.post("/settings/tokens/{token_id}/delete")
    def token_delete(request: Request, token_id: int, csrf: str = Form("")) -> Response:
        scope = changed(request, csrf)
        if not store.write(account_rows.drop_token, scope.user.id, token_id):
            raise HTTPException(404, "not found")
        return RedirectResponse("/settings", status_code=303)

    @pages.post("/settings/domains")
    def domain_assign(request: Request, domain: str = Form(""), organisation: str = Form(""),
                      csrf: str = Form("")) -> HTMLResponse:
        scope = changed(request, csrf)
        views.require_admin(scope)
        name = domain.strip().lower().rstrip(".")
        if not name or "." not in name:
            raise HTTPException(400, "domain: give a domain name such as example.com")
        tools.assign(store, name, organisation.strip())
        return settings_page(request, scope, message=words_for(request, scope)(
            "settings.assigned", domain=name, organisation=organisation.strip() or "—"))

    @pages.post("/settings/users")
    def user_add(request: Request, email: str = Form(""), password: str = Form(""),
                 role: str = Form("member"), organisation: str = Form(""),
                 csrf: str = Form("")) -> HTMLResponse:
        scope = changed(request, csrf)
        views.require_admin(scope)
        try:
            tools.add_user(store, email, password, role, organisation.strip())
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return settings_page(request, scope, message=words_for(request, scope)(
            "settings.user_added", email=email))

    return pages


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    scope = None
    try:
        store = request.app.state.store
        scope = auth.identify(store, request)
    except HTTPException:
        scope = None
    words = words_for(request, scope)
    return templates.TemplateResponse(request, "error.html", {
        "scope": scope, "w": words, "nav": "", "status": status,
        "message": message}, status_code=status)


def to_json(value: Any) -> bytes:
    return msgspec.json.encode(value)
