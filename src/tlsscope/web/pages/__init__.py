"""The dashboard's HTML pages (Jinja2, autoescaped; htmx for the partial updates).

Every page needs a session (else: to /login); every form needs the session's CSRF token;
everything about a domain outside the user's scope answers 404. One module per part of the
site; `site.py` holds what they share.
"""

from __future__ import annotations

from fastapi import APIRouter

from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.web.pages import (
    alerts_pages,
    domain_pages,
    login_pages,
    quarantine_pages,
    report_pages,
    settings_pages,
    tools_pages,
)
from tlsscope.web.pages.site import LoginRequired, Site, error_page, safe_next

__all__ = ["LoginRequired", "error_page", "router", "safe_next"]


def router(store: Store, settings: Settings) -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    site = Site(store, settings)
    for part in (login_pages, domain_pages, report_pages, quarantine_pages, tools_pages,
                 settings_pages, alerts_pages):
        part.add(pages, site)
    return pages
