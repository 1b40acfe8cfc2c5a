"""Record tools, this installation's rua, and a live check of any domain."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from tlsscope.app import checks
from tlsscope.app.scope import Scope
from tlsscope.check.run import Options
from tlsscope.web import tools
from tlsscope.web.pages.site import (
    Site,
    words_for,
)


def add(pages: APIRouter, site: Site) -> None:
    @pages.get("/tools")
    def tools_page(request: Request) -> HTMLResponse:
        return page(request, site.scope_of(request))

    def page(request: Request, scope: Scope, record_out: Any = None,
             check: Any = None) -> HTMLResponse:
        """The whole page (also the answer to a form sent without htmx, JavaScript off)."""
        rua = tools.rua_for(site.settings)
        return site.render(request, scope, "tools.html", "tools", rua=rua,
                           record=tools.tlsrpt_text(rua) if rua else "",
                           record_out=record_out, check=check)

    @pages.post("/tools/record")
    def tools_record(request: Request, action: str = Form(""), rua: str = Form(""),
                     mx: str = Form(""), mode: str = Form("testing"), text: str = Form(""),
                     csrf: str = Form("")) -> HTMLResponse:
        scope = site.changed(request, csrf)
        out = tools.record(action, rua, mx, mode, text, words_for(request, scope))
        if "hx-request" not in request.headers:
            return page(request, scope, record_out=out)
        return site.render(request, scope, "record_out.html", record_out=out)

    @pages.post("/tools/check")
    async def tools_check(request: Request, domain: str = Form(""),
                          csrf: str = Form("")) -> HTMLResponse:
        scope = site.changed(request, csrf)
        scope.require_writer()
        name = checks.checkable(domain)
        request.app.state.check_limit.admit(scope.user.id, name)
        result = await asyncio.to_thread(checks.check_for, site.store,
                                         Options.of(site.settings), scope, name)
        if "hx-request" not in request.headers:
            return page(request, scope, check=result)
        return site.render(request, scope, "check_result.html", check=result)
