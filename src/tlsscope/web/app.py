"""The FastAPI application: RFC 8460 §5.4 intake now; the dashboard and API will join it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import FastAPI

from tlsscope import __version__
from tlsscope.receive import http
from tlsscope.receive.files import RawInput
from tlsscope.store import Saved

if TYPE_CHECKING:
    from tlsscope.intake import Submitter
    from tlsscope.settings import Settings


def create_app(intake: Submitter, settings: Settings, deliver: http.Deliver | None = None,
               ) -> FastAPI:
    app = FastAPI(title="tlsscope", version=__version__,
                  description="Receives SMTP TLS Reporting (RFC 8460) reports.")

    async def submit(raw: RawInput) -> Saved:
        return await asyncio.wrap_future(intake.submit(raw))

    limiter = http.RateLimiter(settings.http_rate_per_minute, settings.http_rate_burst)
    app.include_router(http.router(deliver or submit, max_body=settings.http_max_body_bytes,
                                   body_timeout=settings.http_body_timeout, limiter=limiter))

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
