"""Admins: rejected inputs, their raw bytes, and reading one again."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tlsscope.web import tools, views
from tlsscope.web.pages.site import (
    Site,
    words_for,
)


def add(pages: APIRouter, site: Site) -> None:
    @pages.get("/quarantine")
    def quarantine(request: Request, message: str = "") -> HTMLResponse:
        scope = site.scope_of(request)
        views.require_admin(scope)
        return site.render(request, scope, "quarantine.html", "quarantine",
                      inputs=site.store.quarantine(), message=message)

    @pages.get("/quarantine/{digest}/raw")
    def quarantine_raw(request: Request, digest: str) -> Response:
        views.require_admin(site.scope_of(request))
        held = {i.sha256 for i in site.store.quarantine()}
        data = site.store.raw(digest) if digest in held else None
        if data is None:
            raise HTTPException(404, "not found")
        return Response(data, media_type="application/octet-stream", headers={
            "content-disposition": f'attachment; filename="{digest[:16]}.input"'})

    @pages.post("/quarantine/{digest}/reingest")
    async def quarantine_reingest(request: Request, digest: str,
                                  csrf: str = Form("")) -> Response:
        scope = site.changed(request, csrf)
        views.require_admin(scope)
        outcome = await asyncio.to_thread(tools.reingest, site.store, site.settings, digest)
        words = words_for(request, scope)
        text = words(f"quarantine.{outcome}")
        return RedirectResponse(f"/quarantine?{urlencode({'message': text})}",
                                status_code=303)
