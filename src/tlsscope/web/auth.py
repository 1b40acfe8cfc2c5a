"""Who is asking: passwords (argon2id), browser sessions (a random cookie, stored hashed,
with its own CSRF token), and API tokens (`Authorization: Bearer ...`, stored hashed).

Every page and API route depends on `principal`, which gives the user and the domains they
may see (`Scope`); anything outside that scope answers 404, as if it did not exist.

Bearer tokens are for the JSON API only: the HTML pages and their forms look at the session
cookie alone (a form route that took a token would be a change without a CSRF check). A
token can do what its scope allows (`read` < `write` < `admin`) and its user's role allows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
import time
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request

from tlsscope.store import Store
from tlsscope.store import accounts as rows
from tlsscope.store.accounts import User

COOKIE = "tlsscope_session"
LOGIN_CSRF_COOKIE = "tlsscope_login_csrf"
DEVICE_COOKIE = "tlsscope_device"  # a browser that logged in as this email before
SESSION_DAYS = 14
TOKEN_PREFIX = "tls_"
_hasher = PasswordHasher()
# A real hash to verify against when the email is unknown: both paths take as long.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


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


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check_password(store: Store, email: str, password: str) -> User | None:
    found = store.read(rows.login_row, email)
    try:
        _hasher.verify(found[1] if found else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    return found[0] if found else None


def start_session(store: Store, user: User) -> str:
    """A new session for `user`; returns the cookie value."""
    token = new_secret()
    now = dt.datetime.now(dt.UTC)
    store.write(rows.add_session, digest(token), user.id, new_secret(), now,
                now + dt.timedelta(days=SESSION_DAYS))
    return token


def new_token(store: Store, user: User, name: str, scope: str = "read",
              expires_days: int | None = None) -> str:
    """A new API token for `user`; shown once, stored hashed. Raises ValueError for an
    unknown scope or a non-positive expiry."""
    if expires_days is not None and expires_days < 1:
        raise ValueError("expires-days: at least 1 (or none: never expires)")
    token = TOKEN_PREFIX + new_secret()
    now = dt.datetime.now(dt.UTC)
    expires = None if expires_days is None else now + dt.timedelta(days=expires_days)
    store.write(rows.add_token, user.id, name, digest(token), now, scope, expires)
    return token


class Scope(NamedTuple):
    user: User
    domains: list[str] | None  # None: every domain (admin)
    csrf: str  # "" for API tokens (no cookie, nothing to forge)
    token_scope: str = ""  # an API token's scope; "" for a browser session (its role decides)

    def may(self, needed: str) -> bool:
        """Whether a token's scope covers `needed` (a session: always)."""
        if not self.token_scope:
            return True
        return rows.SCOPES.index(self.token_scope) >= rows.SCOPES.index(needed)

    def require(self, needed: str) -> None:
        if not self.may(needed):
            raise HTTPException(403, f"this API token's scope is {self.token_scope}; "
                                f"this needs {needed}")

    def allows(self, domain: str) -> bool:
        return self.domains is None or domain in self.domains

    def check(self, domain: str) -> str:
        """`domain` normalised, or 404 when outside the scope."""
        name = domain.strip().lower().rstrip(".")
        if not self.allows(name):
            raise HTTPException(404, "not found")
        return name


def identify(store: Store, request: Request, bearer: bool = True) -> Scope | None:
    """The requester's scope from a bearer token or the session cookie (None: anonymous).
    `bearer=False` (the HTML pages): the session cookie only; a token is not looked at."""
    now = dt.datetime.now(dt.UTC)
    header = request.headers.get("authorization", "") if bearer else ""
    user: User | None = None
    csrf = token_scope = ""
    if header.lower().startswith("bearer "):
        found_token = store.read(rows.token_user, digest(header[7:].strip()), now)
        if found_token is None:
            raise HTTPException(401, "invalid API token",
                                headers={"WWW-Authenticate": "Bearer"})
        user, token_id, stale, token_scope = found_token
        if stale:
            store.write(rows.touch_token, token_id, now)
    else:
        cookie = request.cookies.get(COOKIE)
        found = store.read(rows.session_user, digest(cookie), now) if cookie else None
        if found is not None:
            user, csrf = found
    if user is None:
        return None
    return Scope(user, store.read(rows.visible_domains, user), csrf, token_scope)


def require_csrf(scope: Scope, sent: str | None) -> None:
    """A cookie-authenticated change must carry the session's CSRF token."""
    if scope.csrf and not (sent and same(sent, scope.csrf)):
        raise HTTPException(403, "missing or wrong CSRF token")
