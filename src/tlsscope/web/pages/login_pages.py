"""Logging in and out, and the language a user reads the pages in."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tlsscope.app import accounts, audit
from tlsscope.web import auth
from tlsscope.web.i18n import LANGS
from tlsscope.web.pages.site import (
    LANG_COOKIE,
    Site,
    safe_next,
    words_for,
)
from tlsscope.web.pages.site import address as site_address


def add(pages: APIRouter, site: Site) -> None:
    @pages.get("/login")
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or accounts.new_secret()
        response = site.render(request, None, "login.html", login_csrf=token,
                          next=safe_next(next), email="", error="")
        response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    @pages.post("/login")
    async def login(request: Request, email: str = Form(""), password: str = Form(""),
                    csrf: str = Form(""), next: str = Form("/")) -> Response:
        cookie = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
        if not cookie or not accounts.same(cookie, csrf):
            raise HTTPException(403, "missing or wrong CSRF token: reload the login page")
        words = words_for(request, None)
        address = site_address(request)
        audit.act_as(audit.Actor(email.strip() or "(no email)", None, address))
        device = request.cookies.get(auth.DEVICE_COOKIE, "")
        wait = await asyncio.to_thread(site.throttle.attempt, address, email, device)
        if wait:
            refused = site.render(request, None, "login.html", status=429, login_csrf=cookie,
                                  next=safe_next(next), email=email,
                                  error=words("login.throttled", minutes=-(-wait // 60)))
            refused.headers["retry-after"] = str(wait)
            return refused
        user = await asyncio.to_thread(accounts.check_password, site.store, email, password)
        if user is None:
            return site.render(request, None, "login.html", status=401, login_csrf=cookie,
                               next=safe_next(next), email=email, error=words("login.failed"))
        await asyncio.to_thread(site.throttle.succeeded, address, email, device)
        token = accounts.start_session(site.store, user)
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(auth.COOKIE, token, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https",
                            max_age=accounts.SESSION_DAYS * 86400)
        response.delete_cookie(auth.LOGIN_CSRF_COOKIE)
        device = await asyncio.to_thread(site.throttle.remember, email)
        response.set_cookie(auth.DEVICE_COOKIE, device, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https",
                            max_age=365 * 86400, path="/login")
        return response

    @pages.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        site.changed(request, csrf)
        accounts.end_session(site.store, request.cookies.get(auth.COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.COOKIE)
        return response

    @pages.post("/settings/lang")
    def set_lang(request: Request, lang: str = Form("en"), csrf: str = Form(""),
                 next: str = Form("/")) -> Response:
        scope = site.changed(request, csrf)
        if lang not in LANGS:
            raise HTTPException(400, f"lang must be one of {', '.join(LANGS)}")
        accounts.set_lang(site.store, scope.user, lang)
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
        return response
