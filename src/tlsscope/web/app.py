"""The FastAPI application: the RFC 8460 §5.4 intake, and (given a store) the dashboard,
the /api/v1 JSON API and its OpenAPI documentation at /docs.

Every response carries a strict Content-Security-Policy: scripts and styles only from this
site (vendored through npm, no CDN), no inline script, no framing. A response to a request
with credentials (the session cookie or a bearer token) is `Cache-Control: no-store`; over
HTTPS every response carries HSTS.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tlsscope import __version__
from tlsscope.app.limits import RateLimiter
from tlsscope.errors import Forbidden, NotFound, RequestError
from tlsscope.receive.files import RawInput
from tlsscope.store import Saved, Store
from tlsscope.web import intake as http_intake
from tlsscope.web.check_limit import CheckLimiter
from tlsscope.web.health import Health
from tlsscope.web.metrics import MetricsListener, Scrape
from tlsscope.web.metrics import router as metrics_router

if TYPE_CHECKING:
    from tlsscope.intake import Submitter
    from tlsscope.settings import Settings

log = logging.getLogger("tlsscope.web")
STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
# Swagger UI sets some styles inline; its page alone allows them.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY")]
HSTS = (b"strict-transport-security", b"max-age=31536000")
NO_STORE = (b"cache-control", b"no-store")


# FastAPI's own OpenTelemetry (FastAPI 0.16x) off: tlsscope exports Prometheus metrics
# (/metrics); left on, it looks its providers up on every request, configured or not
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters else {})


def _credentialed(headers: list[tuple[bytes, bytes]]) -> bool:
    """The request carries a bearer token or the session cookie."""
    for name, value in headers:
        if name == b"authorization" or (name == b"cookie" and b"tlsscope_session=" in value):
            return True
    return False


class SecurityHeaders:
    """Adds the CSP and friends to every HTTP response (a plain ASGI middleware: no per
    request overhead worth measuring on the intake path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = (DOCS_CSP if scope["path"] == "/docs" else CSP).encode()
        extra = [*_HEADERS, *([HSTS] if scope.get("scheme") == "https" else [])]
        no_store = _credentialed(scope.get("headers", []))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if no_store:
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                    headers.append(NO_STORE)
                message["headers"] = [*headers, (b"content-security-policy", policy), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(intake: Submitter, settings: Settings, deliver: http_intake.Deliver | None = None,
               store: Store | None = None, health: Health | None = None,
               scrape: Scrape | None = None, metrics_port: int | None = None) -> FastAPI:
    """`health`: what /readyz looks at (`tlsscope serve`: the writer and analyst processes,
    the writer's queue, and the database); by default the database, given a store.
    `scrape`: what /metrics answers (by default the report gauges and this process's
    counters); `metrics_port`: the port of the metrics listener, whose requests need no
    token and reach only /metrics, /healthz and /readyz (web/metrics.py)."""
    app = FastAPI(title="tlsscope", version=__version__, docs_url=None, redoc_url=None,
                  **_NO_TELEMETRY,
                  description="Receives SMTP TLS Reporting (RFC 8460) reports; the JSON API "
                  "of the dashboard is under /api/v1 (Authorization: Bearer tls_...).")

    async def submit(raw: RawInput) -> Saved:
        return await asyncio.wrap_future(intake.submit(raw))

    shared = store is not None and (settings.http_rate_shared == "database" or (
        settings.http_rate_shared == "auto" and store.engine.dialect.name == "postgresql"))
    limiter = RateLimiter(settings.http_rate_per_minute, settings.http_rate_burst,
                          store if shared else None)
    app.include_router(http_intake.router(deliver or submit, max_body=settings.http_max_body_bytes,
                                   body_timeout=settings.http_body_timeout, limiter=limiter))

    check = health or Health({}, store)

    @app.head("/healthz", include_in_schema=False)
    @app.get("/healthz", summary="Alive: the process answers (200)")
    async def healthz() -> JSONResponse:
        """For systemd or an orchestrator: answered at all, the process is alive (a
        database that is away does not make it fail; /readyz says so)."""
        return JSONResponse(check.alive())

    @app.head("/readyz", include_in_schema=False)
    @app.get("/readyz", summary="Ready to take reports (200), or not (503)",
             responses={503: {"description": "not ready: the body says what is wrong"}})
    async def readyz() -> JSONResponse:
        """For a load balancer, whether to send reports here: the writer and analyst
        processes running, the writer's queue below writer_queue_max, the database
        answering and its schema this tlsscope's."""
        ready, parts = await check.ready()
        return JSONResponse(parts, status_code=200 if ready else 503)

    app.include_router(metrics_router(scrape or Scrape(store, settings), settings))
    if store is not None:
        _dashboard(app, store, settings)
    app.add_middleware(SecurityHeaders)
    if metrics_port is not None:
        app.add_middleware(MetricsListener, port=metrics_port)
    return app


def _dashboard(app: FastAPI, store: Store, settings: Settings) -> None:
    from tlsscope.web import api, pages
    from tlsscope.web.unsubscribe import router as unsubscribe_router

    app.state.store = store
    app.state.check_limit = CheckLimiter()  # live checks, shared by the pages and the API
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router(store, settings))
    app.include_router(pages.router(store, settings))
    app.include_router(unsubscribe_router(store))  # the digest's one-click opt-out

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><html><head><meta charset='utf-8'><title>tlsscope API</title>"
            "<link rel='stylesheet' href='/static/vendor/swagger-ui.css'></head><body>"
            "<div id='swagger-ui'></div>"
            "<script src='/static/vendor/swagger-ui-bundle.js'></script>"
            "<script src='/static/docs.js'></script></body></html>")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith(("/api/", "/v1/"))

    @app.exception_handler(pages.LoginRequired)
    async def login_required(request: Request, exc: pages.LoginRequired) -> Response:
        from urllib.parse import urlencode

        return RedirectResponse(f"/login?{urlencode({'next': exc.path})}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if wants_html(request):
            page = pages.error_page(request, exc.status_code, str(exc.detail))
            page.headers.update(exc.headers or {})  # Retry-After, WWW-Authenticate
            return page
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> Response:
        """The application's refusals: 404, 403, and a wrong value (a 400 page, as for any
        bad parameter of a page; 422 from the API, as for its validation errors)."""
        status = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Forbidden) \
            else 400 if wants_html(request) else 422
        if wants_html(request):
            return pages.error_page(request, status, exc.message)
        return JSONResponse({"detail": exc.message}, status_code=status)

    @app.exception_handler(SQLAlchemyTimeout)
    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: Exception) -> Response:
        """No free pooled connection within db_pool_timeout, or the database away: 503, to
        be retried (a load balancer may send the retry to another node), never a 500."""
        busy = isinstance(exc, SQLAlchemyTimeout)
        message = ("the database is busy (no free connection within db_pool_timeout); retry"
                   if busy else "the database cannot be reached now; retry")
        log.warning("request refused: " + ("database busy" if busy else "database away"),
                    extra={"fields": {"path": request.url.path[:200],
                                      "why": str(exc).splitlines()[0][:300]}})
        headers = {"Retry-After": "5"}
        if wants_html(request):
            page = pages.error_page(request, 503, message)
            page.headers.update(headers)
            return page
        return JSONResponse({"detail": message}, status_code=503, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [_problem(error) for error in exc.errors()]
        if wants_html(request):
            return pages.error_page(request, 400, "; ".join(problems))
        return JSONResponse({"detail": problems}, status_code=422)


def _problem(error: Any) -> str:
    """"query.since: Input should be a valid date ..." — where, then what."""
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'invalid')}"
