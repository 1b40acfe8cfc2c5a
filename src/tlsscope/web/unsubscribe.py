"""`/digest/unsubscribe?t=TOKEN`: the digest's one-click unsubscribe (RFC 8058).

    GET   a small page that asks, with a button: a GET changes nothing, since mail
          scanners and link previews fetch every link of a mail
    POST  records the opt-out and answers 200: what a mail client's one-click sends
          (`List-Unsubscribe=One-Click`, form-encoded, no cookie, no CSRF token: the signed
          token is the authority), and what the page's button sends

A token that is cut or forged is a 400 that says so. The pages are plain HTML: no script,
no inline style (the site's CSP), the site's stylesheet.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from markupsafe import escape

from tlsscope.alert import digest_unsubscribe
from tlsscope.alert.render import clean
from tlsscope.alert.words import DEFAULT, Words
from tlsscope.errors import Invalid
from tlsscope.store import Store

PATH = "/digest/unsubscribe"
Token = Annotated[str, Query(max_length=1200, description="The signed token of the digest's "
                             "List-Unsubscribe link.")]


def _page(words: Words, body: str, status: int = 200) -> HTMLResponse:
    title = escape(words("digest.page_title"))
    return HTMLResponse(
        f'<!doctype html><html lang="{words.lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title} · tlsscope</title><link rel="stylesheet" href="/static/app.css">'
        f'</head><body><main><section class="card narrow"><h1>{title}</h1>{body}'
        "</section></main></body></html>", status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _refused() -> HTMLResponse:
    words = Words(DEFAULT)
    return _page(words, f"<p>{escape(words('digest.page_bad'))}</p>", 400)


def router(store: Store) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get(PATH)
    def ask(t: Token = "") -> HTMLResponse:
        try:
            email, lang = digest_unsubscribe.reader(store, t)
        except Invalid:
            return _refused()
        words = Words(lang)
        return _page(words, (
            f"<p>{escape(words('digest.page_ask', email=clean(email, 254)))}</p>"
            f'<form method="post" action="{PATH}?t={escape(t)}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            f"<button>{escape(words('digest.page_button'))}</button></form>"))

    @routes.post(PATH)
    def one_click(t: Token = "") -> HTMLResponse:
        try:
            email, lang = digest_unsubscribe.unsubscribe(store, t)
        except Invalid:
            return _refused()
        words = Words(lang)
        return _page(words, f"<p>{escape(words('digest.page_done', email=clean(email, 254)))}</p>")

    return routes
