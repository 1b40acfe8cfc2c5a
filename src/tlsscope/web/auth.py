"""Who is asking: passwords (argon2id), browser sessions (a random cookie, stored hashed,
with its own CSRF token), and API tokens (`Authorization: Bearer ...`, stored hashed).

Every page and API route depends on `principal`, which gives the user and the domains they
may see (`Scope`); anything outside that scope answers 404, as if it did not exist.

Bearer tokens are for the JSON API only: the HTML pages and their forms look at the session
cookie alone (a form route that took a token would be a change without a CSRF check). A
token can do what its scope allows (`read` < `write` < `admin`) and its user's role allows.
"""

from __future__ import annotations

import math
import time

from fastapi import HTTPException, Request

from tlsscope.app import accounts
from tlsscope.app.accounts import new_secret, same
from tlsscope.app.scope import Scope
from tlsscope.store import Store

COOKIE = "tlsscope_session"
LOGIN_CSRF_COOKIE = "tlsscope_login_csrf"
DEVICE_COOKIE = "tlsscope_device"  # a browser that logged in as this email before


class LoginThrottle:
    """Password guessing: after `failures` wrong passwords for one email from one address
    within `window` seconds, further tries are refused until the oldest failure ages out.
    A right password clears the count. A browser that logged in as the email before (its
    device cookie, `remember`) is counted on its own, so a stranger behind the same address
    cannot lock the user out (the cookies are kept in memory: a restart forgets them)."""

    def __init__(self, failures: int = 10, window: float = 900.0) -> None:
        self.failures, self.window = failures, window
        self._failed: dict[tuple[str, str], list[float]] = {}
        self._devices: dict[str, str] = {}  # device cookie -> email

    def remember(self, email: str) -> str:
        """A device cookie for a browser that just logged in as `email`."""
        if len(self._devices) > 100_000:
            self._devices.clear()
        device = new_secret()
        self._devices[device] = email.strip().lower()
        return device

    def _key(self, address: str, email: str, device: str) -> tuple[str, str]:
        email = email.strip().lower()
        if device and self._devices.get(device) == email:
            return ("device:" + device, email)
        return (address, email)

    def wait(self, address: str, email: str, device: str = "") -> int:
        """Seconds before another try is allowed (0: now)."""
        now = time.monotonic()
        key = self._key(address, email, device)
        recent = [t for t in self._failed.get(key, []) if now - t < self.window]
        if recent:
            self._failed[key] = recent
        else:
            self._failed.pop(key, None)
        if len(recent) < self.failures:
            return 0
        return max(1, math.ceil(self.window - (now - recent[0])))

    def succeeded(self, address: str, email: str, device: str = "") -> None:
        """A right password: the failures counted for this email and address (or, from a
        known browser, for that browser) are forgotten."""
        self._failed.pop(self._key(address, email, device), None)

    def failed(self, address: str, email: str, device: str = "") -> None:
        if len(self._failed) > 100_000:  # forget idle keys
            self._failed.clear()
        self._failed.setdefault(self._key(address, email, device), []).append(time.monotonic())


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
