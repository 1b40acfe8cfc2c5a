"""Limits on what one client may do: password guessing (the login throttle) and the rate of
report POSTs. A fleet's nodes share them through the store (store/limits_rows.py), so a
client spread over the nodes by a load balancer gets the limit once, not once per node.

The login throttle is always in the store (logins are few). The HTTP rate limit's buckets are
in the store on PostgreSQL and in this process on SQLite (one node; the writer's lock should
not be taken per request), by the setting http_rate_shared; a load balancer that limits
rates itself makes ours unneeded (http_rate_per_minute = 0).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from tlsscope.clients import client_key
from tlsscope.store import Store, digest_rows, limits_rows

log = logging.getLogger("tlsscope.limits")
_DEVICE_SALT = b"tlsscope device\x00"


def _key(*parts: str) -> str:
    """A fixed-length key for what the client chose (an email may be 100 KB long)."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class LoginThrottle:
    """Password guessing: after `failures` wrong passwords for one email from one address
    within `window` seconds, further tries are refused until the oldest failure ages out.
    A right password clears the count. A browser that logged in as the email before (its
    device cookie, `remember`: signed, so every node recognises it) is counted on its own,
    so a stranger behind the same address cannot lock the user out."""

    def __init__(self, store: Store, failures: int = 10, window: float = 900.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.failures, self.window, self.clock = store, failures, window, clock
        self._signing: bytes | None = None
        self._pruned = 0.0

    def _mac(self, nonce: str, email: str) -> str:
        if self._signing is None:
            self._signing = self.store.write(digest_rows.secret, "device",
                                             secrets.token_hex(32)).encode()
        message = _DEVICE_SALT + f"{nonce}:{email}".encode("utf-8", "surrogatepass")
        return hmac.new(self._signing, message, hashlib.sha256).hexdigest()[:32]

    def remember(self, email: str) -> str:
        """A device cookie for a browser that just logged in as `email`."""
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._mac(nonce, email.strip().lower())}"

    def _key(self, address: str, email: str, device: str) -> str:
        email = email.strip().lower()
        nonce, _, mac = device.partition(".")
        if nonce and len(device) < 200 and hmac.compare_digest(
                mac.encode("utf-8", "surrogatepass"), self._mac(nonce, email).encode()):
            return _key("device", nonce, email)
        return _key("address", address, email)

    def attempt(self, address: str, email: str, device: str = "") -> int:
        """Before a password is checked: 0 if it may be, the attempt then counted as a
        failure until `succeeded` says otherwise; else the seconds before another try is
        allowed. One step, so parallel guesses (on any nodes) get no more tries."""
        now = self.clock()
        oldest = self.store.write(limits_rows.login_attempt, self._key(address, email, device),
                                  now, self.window, self.failures)
        if now - self._pruned > self.window / 10:  # every key's old failures, now and then
            self._pruned = now
            self.store.write(limits_rows.login_prune, now - self.window)
        return 0 if not oldest else max(1, math.ceil(self.window - (now - oldest)))

    def succeeded(self, address: str, email: str, device: str = "") -> None:
        """A right password: the failures counted for this email and address (or, from a
        known browser, for that browser) are forgotten, this attempt's with them."""
        self.store.write(limits_rows.login_forget, self._key(address, email, device))


class RateLimiter:
    """A token bucket per client address: `per_minute` requests, bursts up to `burst`; in
    the store when given one (shared by a fleet), else in this process."""

    def __init__(self, per_minute: int, burst: int, store: Store | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.rate, self.burst = per_minute / 60.0, float(burst)
        self.store = store
        # the store's buckets are compared across nodes: wall-clock time; in memory, monotonic
        self.clock = clock or (time.time if store is not None else time.monotonic)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._takes = 0
        self._warned = float("-inf")  # the clock may be younger than a minute

    async def retry_after(self, client: str) -> int:
        """0 when the request may go ahead, else the seconds to wait. A client is its
        address, or its IPv6 /64 (tlsscope.clients)."""
        if self.rate <= 0:
            return 0
        client = client_key(client)
        if self.store is None:
            return self._local(client)
        try:
            return await asyncio.to_thread(self._shared, client)
        except SQLAlchemyError as exc:  # the store is away: let it through, the writer says
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning("the shared rate limit is unavailable; not limiting", extra={
                    "fields": {"why": str(exc).splitlines()[0][:300]}})
            return 0

    def _shared(self, client: str) -> int:
        store, now = self.store, self.clock()
        assert store is not None
        self._takes += 1
        if self._takes % 1000 == 0:  # buckets idle long enough to be full again go
            store.write(limits_rows.forget_buckets, now - self.burst / self.rate - 60)
        wait = store.write(limits_rows.take_token, _key("http", client), now, self.rate,
                           self.burst)
        return 0 if wait <= 0 else max(1, math.ceil(wait))

    def _local(self, client: str) -> int:
        now = self.clock()
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > 100_000:  # forget idle clients
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 3600}
            return 0
        self._buckets[client] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / self.rate))
