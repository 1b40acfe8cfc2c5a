"""The HTTP front end: what holds before a request reaches the app (uvicorn with httptools).

uvicorn bounds neither the size of a request's line and headers nor the time they take:
httptools keeps an unfinished header whole, however long, and a client may dribble headers
for ever. `front_protocol(limits)` is uvicorn's httptools protocol with:
- a header timeout: from the connection, or from a later request's first byte, to the end of
  its headers, at most `header_timeout` seconds; then 408 and the connection is closed;
- caps on the request line and headers together (`max_header_bytes`) and on the number of
  header fields (`max_headers`): over either, 431 and the connection is closed, before the
  app sees the request;
- caps on open connections, checked as each one is accepted: per client address (429; see
  address_cap.py) and in all (503; uvicorn's `limit_concurrency` answers 503 too, once the
  headers are in).
A refused connection is read no further: it lingers a second, reading and dropping, so that
the client reads the answer rather than a reset, then it is closed. Refusals are logged in
one line, at most one line a second for each reason (with the count of those not logged).

`QuietDisconnects` wraps the ASGI app: a client that goes away while its request is read is
one info line, not "Exception in ASGI application" with a traceback at error level.
"""

from __future__ import annotations

import asyncio
import http
import logging
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tlsscope.receive.address_cap import AddressCap, networks
from tlsscope.settings import Settings

log = logging.getLogger("tlsscope.http")

LINGER_SECONDS = 1.0  # a refused client's time to read the answer before the close
RETRY_AFTER = {429: "10", 503: "10"}


@dataclass(frozen=True)
class HttpLimits:
    header_timeout: float
    max_header_bytes: int
    max_headers: int
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(settings.http_header_timeout, settings.http_max_header_bytes,
                   settings.http_max_headers, settings.http_max_connections)


def address_cap(settings: Settings) -> AddressCap:
    """The per-address cap of `settings`; the trusted proxies are not capped."""
    every, trusted = networks(settings.forwarded_allow_ips)
    return AddressCap(settings.http_max_connections_per_address, trusted, exempt_all=every)


class _Gate:
    """What the connections of one server share: the limits, the per-address counts and the
    throttle of the refusal log lines."""

    def __init__(self, limits: HttpLimits, cap: AddressCap) -> None:
        self.limits, self.cap = limits, cap
        self._logged: dict[str, tuple[float, int]] = {}

    def refused(self, why: str, client: str) -> None:
        now = time.monotonic()
        last, unlogged = self._logged.get(why, (-1e9, 0))
        if now - last < 1.0:
            self._logged[why] = (last, unlogged + 1)
            return
        self._logged[why] = (now, 0)
        level = logging.WARNING if why == "too many connections" else logging.INFO
        log.log(level, "connection closed", extra={"fields": {
            "why": why, "client": client, "more_since_last_line": unlogged}})


def front_protocol(limits: HttpLimits, cap: AddressCap) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol held to `limits` and `cap`: `uvicorn.Config(http=...)`."""

    class Front(_FrontProtocol):
        gate = _Gate(limits, cap)

    return Front


class _FrontProtocol(HttpToolsProtocol):
    gate: ClassVar[_Gate]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None  # set while headers are awaited
        self._phase = 0  # one number per request line and headers awaited
        self._received = 0  # bytes of unfinished headers so far
        self._size = 0  # bytes of the parsed request line and headers
        self._fields = 0
        self._refused = False
        self._counted = ""  # the host counted against the per-address cap

    # the connection
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else ""
        if len(self.connections) > self.gate.limits.max_connections:
            self._refuse(503, "too many connections")
        elif not self.gate.cap.take(host):
            self._refuse(429, "too many connections from this address")
        else:
            self._counted = host
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        if self._counted:
            self.gate.cap.give(self._counted)
            self._counted = ""
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: dropped unread
        phase = self._phase if self._timer is not None else None
        super().data_received(data)
        if (phase is not None and phase == self._phase and self._timer is not None
                and not self.transport.is_closing()):
            self._received += len(data)  # these headers are not over yet
            if self._received > self.gate.limits.max_header_bytes:
                self._refuse(431, "request headers too large")

    # the parser's callbacks
    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        if self._timer is None:
            self._await_headers()

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            self._size += len(url)
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        self._size += len(name) + len(value) + 4
        self._fields += 1
        if self._fields <= self.gate.limits.max_headers:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._stop_timer()
        limits = self.gate.limits
        if self._size > limits.max_header_bytes:
            self._refuse(431, "request headers too large")
        elif self._fields > limits.max_headers:
            self._refuse(431, "too many request header fields")
        else:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    # limits
    def _await_headers(self) -> None:
        self._phase += 1
        self._received = self._size = self._fields = 0
        self._timer = self.loop.call_later(self.gate.limits.header_timeout, self._timed_out)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.flow is not None and self.flow.read_paused:  # we stopped reading, not it
            self._timer = self.loop.call_later(self.gate.limits.header_timeout,
                                               self._timed_out)
            return
        if self._received or self._size:
            self._refuse(408, "request headers too slow", linger=False)
        else:  # connected (or kept alive) and sent nothing: no answer is owed
            self._refused = True
            self.transport.close()

    def _refuse(self, status: int, why: str, *, linger: bool = True) -> None:
        self._refused = True
        self._stop_timer()
        self.gate.refused(why, self.client[0] if self.client else "")
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(_answer(status, why))
        if not linger:
            transport.close()
            return
        if transport.can_write_eof():
            transport.write_eof()
        if self.flow is not None:
            self.flow.resume_reading()
        self.loop.call_later(LINGER_SECONDS, transport.close)


def _answer(status: int, why: str) -> bytes:
    body = why.encode("ascii") + b"\n"
    phrase = http.HTTPStatus(status).phrase
    head = [f"HTTP/1.1 {status} {phrase}", "content-type: text/plain; charset=utf-8",
            f"content-length: {len(body)}", "connection: close"]
    if status in RETRY_AFTER:
        head.append(f"retry-after: {RETRY_AFTER[status]}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


class QuietDisconnects:
    """The ASGI app, with a client gone mid-request logged in one info line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            client = scope.get("client")
            log.info("client went away mid-request", extra={"fields": {
                "client": client[0] if client else "", "method": scope.get("method", ""),
                "path": scope.get("path", "")}})
