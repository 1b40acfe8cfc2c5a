"""`GET /metrics`: the Prometheus text format (docs/metrics.md).

Two doors, by settings:
- the main listener, with `Authorization: Bearer <metrics_token>` (without a token set,
  /metrics is not served there: 404);
- a listener of its own (`metrics_listen`), without a token, plain HTTP even when the main
  listener speaks TLS, answering only /metrics, /healthz and /readyz.

A scrape is the service's counters, summed over serve's processes (tlsscope.counters;
prometheus_client's multiprocess mode), the gauges this process knows (the writer's queue,
the build), and the report gauges (tlsscope.app.metrics), written in the text format here
(prometheus_client's families and writer take 3.4 s for 10,000 domains' 160,000 samples,
this one 0.6 s: it escapes each distinct label value once).

The report gauges change with the reports, and are about whole days: they are read on a
thread of their own, one read at a time however many scrapers ask, and a scrape answers with
the latest one read, starting a new read when it is older than REUSE_SECONDS, or ten times
as long as the last read took (at most REREAD_SECONDS), whichever is longer: reading costs
this process a tenth of its time at most (tlsscope_metrics_reports_age_seconds says how old
the gauges are). Until a read has worked, scrapes wait for it, REPORT_SECONDS at most, and
once one such wait has run out none waits again: a slow or absent database never hangs a
scrape. A read that failed, or that has run longer than REPORT_SECONDS, makes
tlsscope_metrics_reports_up 0; the latest gauges read are still served until they are
MAX_AGE_SECONDS old, then left out.
"""

from __future__ import annotations

import asyncio
import gzip
import hmac
import logging
import platform
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, NamedTuple

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Receive, Scope, Send

from tlsscope import __version__, counters
from tlsscope.app import metrics as report_gauges
from tlsscope.settings import Settings, token_problem
from tlsscope.store import Store
from tlsscope.web.once import run as _run

log = logging.getLogger("tlsscope.web")
REUSE_SECONDS = 5.0
REREAD_SECONDS = 60.0
REPORT_SECONDS = 10.0  # the first scrape's wait; a read running longer has overrun
MAX_AGE_SECONDS = 300.0  # older report gauges are not served
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


def _escape(value: str) -> str:
    """A label value: backslash, newline and double quote escaped."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    """HELP text: backslash and newline escaped (a quote is as it is)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def exposition(families: Iterable[report_gauges.Family]) -> bytes:
    """The text format (0.0.4) of these gauges."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} gauge")
        pieces: list[dict[str, str]] = [{} for _ in family.labels]  # value -> 'name="value"'
        for values, value in family.samples:
            parts = []
            for made, name, text in zip(pieces, family.labels, values, strict=True):
                piece = made.get(text)
                if piece is None:
                    piece = made[text] = f'{name}="{_escape(text)}"'
                parts.append(piece)
            labels = "{" + ",".join(parts) + "}" if parts else ""
            lines.append(f"{family.name}{labels} {_number(value)}")
    lines.append("")
    return "\n".join(lines).encode("utf-8")


class _Read(NamedTuple):
    """One read of the report gauges, swapped in whole when done."""

    text: bytes
    gzipped: bytes  # `text` gzipped, the stream left open (flushed): see Scrape.__call__
    compressor: Any  # the zlib compressor that wrote it: copied by each scrape
    read_at: float  # time.monotonic() when the read started
    seconds: float  # how long it took


class Scrape:
    """What one GET /metrics answers. `queue_depth`: the writer's (serve's WriterProcess)."""

    def __init__(self, store: Store | None, settings: Settings,
                 queue_depth: Callable[[], int] | None = None) -> None:
        self.store, self.settings, self.queue_depth = store, settings, queue_depth
        self._latest: _Read | None = None
        self._failed = ""  # why the latest read failed ("": it did not)
        self._reading: Future[None] | None = None
        self._started = 0.0  # time.monotonic() when the read under way started
        self._waited_in_vain = False  # a scrape waited for a read that overran
        self._told = False  # the read under way was logged as overrunning

    def _read_reports(self) -> None:
        assert self.store is not None
        started = time.monotonic()
        try:
            text = exposition(report_gauges.families(
                report_gauges.Reading(self.store, self.settings)))
        except Exception as exc:  # loop guard: the next scrape tries again; this one says so
            self._failed = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("metrics: report gauges failed", extra={"fields": {
                "error": self._failed}})
            return
        compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip
        gzipped = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
        self._latest = _Read(text, gzipped, compressor, started, time.monotonic() - started)
        self._failed = ""
        self._waited_in_vain = False

    def _busy(self) -> bool:
        return self._reading is not None and not self._reading.done()

    def _due(self, now: float) -> bool:
        """A new read is due: none yet, or the latest is older than REUSE_SECONDS or ten
        times as long as it took (at most REREAD_SECONDS: a read that hung on a database
        does not put the next one off for ten times as long)."""
        latest = self._latest
        return latest is None or now - latest.read_at >= max(
            REUSE_SECONDS, min(10 * latest.seconds, REREAD_SECONDS))

    async def _reports(self) -> tuple[_Read | None, str]:
        """The latest report gauges to serve (None: none read, or none younger than
        MAX_AGE_SECONDS), and what is wrong with them ("" : nothing)."""
        if self._due(time.monotonic()) and not self._busy():
            self._reading = Future()  # one read at a time, on a thread of its own
            self._reading.set_running_or_notify_cancel()
            self._started, self._told = time.monotonic(), False
            threading.Thread(target=_run, args=(self._read_reports, self._reading),
                             name="tlsscope-metrics", daemon=True).start()
        if self._latest is None and self._reading is not None and not self._waited_in_vain:
            try:  # the first read is waited for, within its budget; later ones are not
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._reading)),
                                       REPORT_SECONDS)
            except TimeoutError:
                self._waited_in_vain = True
        now = time.monotonic()
        trouble = self._failed
        if self._busy() and now - self._started > REPORT_SECONDS:
            trouble = f"the read has not answered for {now - self._started:.0f} s"
            if not self._told:
                self._told = True
                log.warning("metrics: report gauges overran", extra={"fields": {
                    "seconds": round(now - self._started, 1)}})
        latest = self._latest
        if latest is not None and now - latest.read_at > MAX_AGE_SECONDS:
            latest = None  # too old to be passed off as the reports' state
        return latest, trouble

    async def __call__(self, gzipped: bool = False) -> bytes:
        """The exposition (`gzipped`: as one gzip stream). The report gauges come first: they
        are compressed once per read, and each scrape goes on from a copy of the compressor
        with the service's part, so a scrape compresses a few lines, not 18 MB."""
        reports, trouble = await self._reports() if self.store is not None else (None, "")
        service = self._service(reports, trouble)
        if reports is None:
            return gzip.compress(service, compresslevel=1) if gzipped else service
        if not gzipped:
            return reports.text + service
        compressor = reports.compressor.copy()
        tail: bytes = compressor.compress(service) + compressor.flush()
        return reports.gzipped + tail

    def _service(self, reports: _Read | None, trouble: str) -> bytes:
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
                "tlsscope_metrics_reports_up", "1: the report gauges below are from a read "
                "that worked; 0: none, or the latest read failed or overran (the log says "
                "why)", value=1 if reports is not None and not trouble else 0))
            if reports is not None:
                own.append(GaugeMetricFamily(
                    "tlsscope_metrics_reports_age_seconds", "How long ago the read of the "
                    "report gauges below started", value=time.monotonic() - reports.read_at))
                own.append(GaugeMetricFamily(
                    "tlsscope_metrics_reports_read_seconds", "How long that read took",
                    value=reports.seconds))
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
        problem = token_problem(token)
        if problem:
            raise ConfigError("metrics_token_file", settings.metrics_token_file,
                              f"the token in it: {problem}")
        return token
    return ""


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header (RFC 9110 §12.5.3) takes gzip: named (or `*`) with
    a quality above 0."""
    best: dict[str, float] = {}
    for item in header.lower().split(",")[:50]:
        name, _, params = item.strip().partition(";")
        quality = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                quality = 0.0
        best[name.strip()] = quality
    return best.get("gzip", best.get("x-gzip", best.get("*", 0.0))) > 0


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
                    value.strip().encode("latin-1", errors="replace"), token):
                return JSONResponse({"detail": "a bearer token (metrics_token) is needed"},
                                    status_code=401,
                                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        gzipped = accepts_gzip(request.headers.get("accept-encoding", ""))
        return Response(await scrape(gzipped), media_type=CONTENT_TYPE,
                        headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
                        if gzipped else {"Vary": "Accept-Encoding"})

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
