"""`GET /metrics`: the Prometheus text format (docs/metrics.md).

Two doors, by settings:
- the main listener, with `Authorization: Bearer <metrics_token>` (without a token set,
  /metrics is not served there: 404);
- a listener of its own (`metrics_listen`), without a token, plain HTTP even when the main
  listener speaks TLS, answering only /metrics, /healthz and /readyz.

A scrape is the service's counters, summed over serve's processes (tlsscope.counters;
prometheus_client's multiprocess mode), the gauges this process knows (the writer's queue,
the build), and the report gauges (tlsscope.app.metrics). Those are read on a thread of
their own, once at a time however many scrapers ask, reused for REUSE_SECONDS and waited for
REPORT_SECONDS at most (web/once.py): a slow or absent database gives a scrape without them,
saying so (tlsscope_metrics_reports_up 0), never a hung one.
"""

from __future__ import annotations

import hmac
import logging
import platform
import time
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Receive, Scope, Send

from tlsscope import __version__, counters
from tlsscope.app import metrics as report_gauges
from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.web.once import Once, Overran

log = logging.getLogger("tlsscope.web")
REUSE_SECONDS = 5.0
REPORT_SECONDS = 10.0
# The text format every Prometheus since 2.0 reads (our names need none of 1.0.0's escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LISTENER = "tlsscope.metrics_listener"  # set in the scope of a request to metrics_listen
LISTENER_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


class _Families:
    """A collector of families made already."""

    def __init__(self, families: Iterable[Any]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Any]:
        return self.families


def _text(families: Iterable[Any]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)


class Scrape:
    """What one GET /metrics answers. `queue_depth`: the writer's (serve's WriterProcess)."""

    def __init__(self, store: Store | None, settings: Settings,
                 queue_depth: Callable[[], int] | None = None) -> None:
        self.store, self.settings, self.queue_depth = store, settings, queue_depth
        self._reports = Once(self._read_reports, "the report gauges", reuse=REUSE_SECONDS,
                             budget=REPORT_SECONDS, thread="tlsscope-metrics")

    def _read_reports(self) -> tuple[bytes, float]:
        assert self.store is not None
        started = time.monotonic()
        reading = report_gauges.Reading(self.store, self.settings)
        return _text(report_gauges.families(reading)), time.monotonic() - started

    async def __call__(self) -> bytes:
        reports, up, seconds = b"", 0, 0.0
        if self.store is not None:
            try:
                reports, seconds = await self._reports()
                up = 1
            except Overran as exc:
                log.warning("metrics: report gauges overran", extra={"fields": {
                    "seconds": round(exc.seconds, 1)}})
            except Exception as exc:  # loop guard: a scrape still tells of the service
                log.warning("metrics: report gauges failed", extra={"fields": {
                    "error": f"{type(exc).__name__}: {exc}"[:300]}})
        return self._service(up, seconds) + reports

    def _service(self, up: int, seconds: float) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        where = counters.folder()
        if where is not None:
            from prometheus_client.multiprocess import MultiProcessCollector

            MultiProcessCollector(registry, path=where)  # type: ignore[no-untyped-call]
        else:
            registry.register(_Families(counters.meters().registry.collect()))
        own = [GaugeMetricFamily("tlsscope_build_info", "The tlsscope that answers",
                                 labels=["version", "python"])]
        own[0].add_metric([__version__, platform.python_version()], 1)
        if self.queue_depth is not None:
            own.append(GaugeMetricFamily(
                "tlsscope_writer_queue_depth", "Inputs handed to the writer and not yet "
                "answered (writer_queue_max refuses more)", value=self.queue_depth()))
        if self.store is not None:
            own.append(GaugeMetricFamily(
                "tlsscope_metrics_reports_up", "1: the report gauges below were read; 0: "
                "the database did not answer in time (the log says why)", value=up))
            own.append(GaugeMetricFamily(
                "tlsscope_metrics_reports_read_seconds", "How long reading the report "
                "gauges took (they are reused for 5 s)", value=seconds))
        registry.register(_Families(own))
        return generate_latest(registry)


def _token(settings: Settings) -> str:
    if settings.metrics_token:
        return settings.metrics_token
    if settings.metrics_token_file:
        from pathlib import Path

        from tlsscope.errors import ConfigError

        try:
            token = Path(settings.metrics_token_file).read_text().strip()
        except OSError as exc:
            raise ConfigError("metrics_token_file", settings.metrics_token_file,
                              f"cannot read: {exc.strerror}") from None
        if len(token) < 16:
            raise ConfigError("metrics_token_file", settings.metrics_token_file,
                              "the token in it must be at least 16 characters")
        return token
    return ""


def router(scrape: Scrape, settings: Settings) -> APIRouter:
    routes = APIRouter()
    token = _token(settings).encode()

    @routes.get("/metrics", summary="Prometheus metrics (docs/metrics.md)",
                response_class=Response,
                responses={200: {"content": {CONTENT_TYPE: {}},
                                 "description": "the Prometheus text format"},
                           401: {"description": "no or a wrong metrics_token"},
                           404: {"description": "not served on this listener"}})
    async def metrics(request: Request) -> Response:
        """On the main listener with `Authorization: Bearer <metrics_token>`; on
        `metrics_listen` without."""
        if not request.scope.get(LISTENER):
            if not token:
                return JSONResponse({"detail": "metrics are not served here: set "
                                     "metrics_token, or metrics_listen"}, status_code=404)
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    value.strip().encode(errors="replace"), token):
                return JSONResponse({"detail": "a bearer token (metrics_token) is needed"},
                                    status_code=401,
                                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(await scrape(), media_type=CONTENT_TYPE)

    return routes


class MetricsListener:
    """Requests that came in on the metrics listener's port: marked (no token asked), and
    refused beyond LISTENER_PATHS (the dashboard and the intake stay on the main one)."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app, self.port = app, port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if scope["type"] == "http" and server is not None and server[1] == self.port:
            if scope["path"] not in LISTENER_PATHS:
                response = JSONResponse({"detail": "this listener serves /metrics, /healthz "
                                         "and /readyz only"}, status_code=404)
                await response(scope, receive, send)
                return
            scope = {**scope, LISTENER: True}
        await self.app(scope, receive, send)
