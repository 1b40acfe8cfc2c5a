"""Who is asking: passwords (argon2id), browser sessions (a random cookie, stored hashed,
with its own CSRF token), and API tokens (`Authorization: Bearer ...`, stored hashed).

Every page and API route depends on `principal`, which gives the user and the domains they
may see (`Scope`); anything outside that scope answers 404, as if it did not exist.

Bearer tokens are for the JSON API only: the HTML pages and their forms look at the session
cookie alone (a form route that took a token would be a change without a CSRF check). A
token can do what its scope allows (`read` < `write` < `admin`) and its user's role allows.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from tlsscope.app import accounts
from tlsscope.app.accounts import same
from tlsscope.app.scope import Scope
from tlsscope.store import Store

COOKIE = "tlsscope_session"
LOGIN_CSRF_COOKIE = "tlsscope_login_csrf"
DEVICE_COOKIE = "tlsscope_device"  # a browser that logged in as this email before


def identify(store: Store, request: Request, bearer: bool = True) -> Scope | None:
    """The requester's scope from a bearer token or the session cookie (None: anonymous).
    `bearer=False` (the HTML pages): the session cookie only; a token is not looked at."""
    header = request.headers.get("authorization", "") if bearer else ""
    if header.lower().startswith("bearer "):
        scope = accounts.token_scope(store, header[7:].strip())
        if scope is None:
            raise HTTPException(401, "invalid API token",
                                headers={"WWW-Authenticate": "Bearer"})
        return scope
    cookie = request.cookies.get(COOKIE)
    return accounts.session_scope(store, cookie) if cookie else None


def require_csrf(scope: Scope, sent: str | None) -> None:
    """A cookie-authenticated change must carry the session's CSRF token."""
    if scope.csrf and not (sent and same(sent, scope.csrf)):
        raise HTTPException(403, "missing or wrong CSRF token")
