"""Admins: rejected inputs, their raw bytes, and reading one again."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tlsscope.app import quarantine as held
from tlsscope.errors import NotFound
from tlsscope.web.pages.site import (
    Site,
    words_for,
)


def add(pages: APIRouter, site: Site) -> None:
    @pages.get("/quarantine")
    def quarantine(request: Request, message: str = "") -> HTMLResponse:
        scope = site.scope_of(request)
        return site.render(request, scope, "quarantine.html", "quarantine",
                           inputs=held.held(site.store, scope), message=message)

    @pages.get("/quarantine/{digest}/raw")
    def quarantine_raw(request: Request, digest: str) -> Response:
        data = held.raw(site.store, site.scope_of(request), digest)
        return Response(data, media_type="application/octet-stream", headers={
            "content-disposition": f'attachment; filename="{digest[:16]}.input"'})

    @pages.post("/quarantine/{digest}/reingest")
    async def quarantine_reingest(request: Request, digest: str,
                                  csrf: str = Form("")) -> Response:
        scope = site.changed(request, csrf)
        try:
            outcome = await asyncio.to_thread(held.reingest, site.store, site.settings, scope,
                                              digest)
        except NotFound:
            scope.require_admin()  # not an admin: the page does not exist
            outcome = "missing"
        words = words_for(request, scope)
        text = words(f"quarantine.{outcome}")
        return RedirectResponse(f"/quarantine?{urlencode({'message': text})}",
                                status_code=303)
