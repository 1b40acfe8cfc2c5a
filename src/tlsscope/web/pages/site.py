"""What every page shares: the templates, the language, the user's scope (a session, else
to /login), rendering, and the CSRF check of every form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from tlsscope import __version__
from tlsscope.app import audit
from tlsscope.app.findings import SEVERITIES
from tlsscope.app.limits import LoginThrottle
from tlsscope.app.scope import Scope
from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.visible import SHOWN, shortened, visible
from tlsscope.web import auth
from tlsscope.web.i18n import Words, choose

LANG_COOKIE = "tlsscope_lang"
BREAKDOWN_ROWS = 20  # rows of a domain page's breakdown tables
templates = Jinja2Templates(directory=str(Path(__file__).parents[1] / "templates"))


def rate_class(rate: float) -> str:
    return "good" if rate >= 99.0 else "warn" if rate >= 95.0 else "bad"


def few(names: list[str], words: Words, shown: int = 5) -> str:
    """"A, B, C, D, E and 1,995 more": a finding seen by thousands stays one line (and a
    100 KB name, a few words)."""
    if len(names) <= shown:
        return ", ".join(shortened(n, 80) for n in names)
    return words("finding.and_more", names=", ".join(shortened(n, 80) for n in names[:shown]),
                 n=words.number(len(names) - shown))


def _finalize(value: object) -> object:
    """Every `{{ }}` of every page: controls made visible (bidi overrides, zero-width
    characters), as the CLI shows them; HTML the filters made is left as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


WHOLE_SHOWN = 4_096  # characters of one string shown unfolded; the JSON download has all


def whole(value: object) -> Markup:
    """A report string in full, where it is the page's subject: a long one folded in a
    <details> whose summary is its start. Past WHOLE_SHOWN characters the fold holds the
    start only (2,000 strings of 20,000 characters made an 82 MB page)."""
    text = "" if value is None else str(value)
    if len(text) <= SHOWN:
        return Markup(escape(visible(text)))
    inside = visible(text) if len(text) <= WHOLE_SHOWN else (
        f"{visible(text[:WHOLE_SHOWN])}… ({len(text):,} characters: the whole value is in "
        "the report's JSON download)")
    return Markup(f'<details class="long"><summary>{escape(shortened(text))}</summary>'
                  f'<div class="wrap">{escape(inside)}</div></details>')


templates.env.finalize = _finalize
templates.env.filters.update(short=lambda value, most=SHOWN: shortened(
    "" if value is None else value, most), whole=whole)
templates.env.globals.update(version=__version__, severities=SEVERITIES,
                             rate_class=rate_class, few=few)


class LoginRequired(Exception):
    def __init__(self, path: str) -> None:
        self.path = path


def words_for(request: Request, scope: Scope | None) -> Words:
    user_lang = scope.user.lang if scope else request.cookies.get(LANG_COOKIE, "")
    return Words(choose(user_lang, request.headers.get("accept-language", "")))


def address(request: Request) -> str:
    """The client's address, as uvicorn resolved it (forwarded_allow_ips respected)."""
    return request.client.host if request.client else ""


def safe_next(value: str) -> str:
    """Only a path on this site (no `//host`, no scheme) may be a redirect target."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


class Site:
    """The store and settings behind the pages, and what their routes share."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self.throttle = LoginThrottle(store)

    def scope_of(self, request: Request) -> Scope:
        """The user's scope, or to /login (and back here afterwards)."""
        scope = auth.identify(self.store, request, bearer=False)
        if scope is None:
            raise LoginRequired(request.url.path + (f"?{request.url.query}"
                                                    if request.url.query else ""))
        audit.act_as(audit.user_actor(scope.user, address(request)))  # the route's context
        return scope

    def render(self, request: Request, scope: Scope | None, name: str, nav: str = "",
               status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request, name, {"scope": scope, "w": words_for(request, scope), "nav": nav,
                            **context}, status_code=status)

    def changed(self, request: Request, csrf: str) -> Scope:
        """The scope of a form's sender, whose CSRF token must match their session's."""
        scope = self.scope_of(request)
        auth.require_csrf(scope, csrf)
        return scope


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    scope = None
    try:
        store = request.app.state.store
        scope = auth.identify(store, request, bearer=False)
    except HTTPException:
        scope = None
    words = words_for(request, scope)
    return templates.TemplateResponse(request, "error.html", {
        "scope": scope, "w": words, "nav": "", "status": status,
        "message": message}, status_code=status)
