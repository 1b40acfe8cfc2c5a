"""RFC 8460 §5.4: reports POSTed over HTTPS, answered 2xx only once they are committed.

`POST /v1/tlsrpt` with `application/tlsrpt+gzip` or `application/tlsrpt+json`; a missing or
generic type is tolerated when the content is recognisable (the reader warns). A duplicate is
a success too, so a retrying sender stops. Bad input gets a 4xx that says what was wrong, and
its raw body is kept in quarantine all the same. Guards: a body size cap (checked on the
declared length, then while reading), a timeout on slow bodies, and a per-address rate limit
answered with 429 and Retry-After. What holds before a request gets here (header size and
time, connections per address and in all, clients gone mid-body) is in receive/http_front.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tlsscope.app.limits import RateLimiter
from tlsscope.errors import StoreUnavailable
from tlsscope.parse.results import Outcome
from tlsscope.receive.files import RawInput
from tlsscope.store import Saved
from tlsscope.vocab import Channel

Deliver = Callable[[RawInput], Awaitable[Saved]]
_TOO_LARGE = {"input_too_large", "decompressed_too_large", "too_many_members"}


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, cap: int, timeout: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge
    body = bytearray()
    async with asyncio.timeout(timeout):
        async for chunk in request.stream():
            body += chunk
            if len(body) > cap:
                raise BodyTooLarge
    return bytes(body)


def router(deliver: Deliver, *, max_body: int, body_timeout: float,
           limiter: RateLimiter) -> APIRouter:
    api = APIRouter()

    @api.post("/v1/tlsrpt", summary="Receive a TLS-RPT report (RFC 8460 §5.4)",
              status_code=201, responses={200: {"description": "a duplicate: already stored"},
                                          400: {"description": "not a valid report"},
                                          413: {"description": "too large"},
                                          415: {"description": "not a TLS-RPT report"},
                                          429: {"description": "too many requests"},
                                          503: {"description": "cannot store now; retry"}})
    async def receive_report(request: Request) -> JSONResponse:
        client = request.client.host if request.client else "unknown"
        wait = await limiter.retry_after(client)
        if wait:
            return _answer(429, "too many requests from this address",
                           headers={"Retry-After": str(wait)})
        try:
            body = await read_body(request, max_body, body_timeout)
        except BodyTooLarge:
            return _answer(413, f"the body is over {max_body:,} bytes")
        except TimeoutError:
            return _answer(408, f"the body took over {body_timeout:g} s to arrive")
        declared = request.headers.get("content-type", "")
        if request.headers.get("content-encoding", "").lower() == "gzip":
            declared = "application/tlsrpt+gzip"  # the body is gzip whatever the type says
        raw = RawInput(f"{Channel.HTTPS}:{client}", body, None, dt.datetime.now(dt.UTC), None,
                       declared, channel=Channel.HTTPS, peer=client)
        try:
            saved = await deliver(raw)
        except StoreUnavailable as exc:
            return _answer(503, f"the report cannot be stored now ({exc}); please retry",
                           headers={"Retry-After": "60"})
        return _verdict(saved)

    return api


def _verdict(saved: Saved) -> JSONResponse:
    detail: dict[str, Any] = {"outcome": saved.outcome.value, "input": saved.digest,
                              "reports_stored": saved.stored, "reports_seen_before": saved.repeated}
    if saved.outcome is Outcome.ACCEPTED:
        return JSONResponse(detail, status_code=201)
    if saved.outcome is Outcome.DUPLICATE:
        return JSONResponse(detail, status_code=200)
    detail["errors"] = saved.reasons
    if saved.refused:  # accept_domains: not a domain of this installation; nothing stored
        detail["outcome"] = "refused"
        return JSONResponse(detail, status_code=403)
    if saved.outcome is Outcome.NOT_A_REPORT:
        detail["errors"] = saved.reasons or ["the body is not a TLS-RPT report (RFC 8460 §4)"]
        return JSONResponse(detail, status_code=415)
    too_large = any(reason.split(":", 1)[0] in _TOO_LARGE for reason in saved.reasons)
    return JSONResponse(detail, status_code=413 if too_large else 400)


def _answer(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"outcome": "refused", "errors": [message]}, status_code=status,
                        headers=headers)
