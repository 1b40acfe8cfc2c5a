"""How often one user may run live checks from the dashboard and the API: one check per domain
per `per_domain` seconds, and `per_hour` checks in all in an hour. A check connects to other
people's servers on a user's say-so; without a limit, one account (or a stolen token) makes
tlsscope a scanner (40 checks in 7 s before this)."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import NamedTuple

from fastapi import HTTPException

HOUR = 3600.0


class CheckLimiter:
    def __init__(self, per_domain: float = 60.0, per_hour: int = 20) -> None:
        self.per_domain, self.per_hour = per_domain, per_hour
        self._last: dict[tuple[int, str], float] = {}  # (user, domain) -> when
        self._recent: dict[int, deque[float]] = {}  # user -> when, oldest first

    def wait(self, user: int, domain: str, now: float | None = None) -> int:
        """Seconds until `user` may check `domain` (0: now, and this check is counted)."""
        now = time.monotonic() if now is None else now
        recent = self._recent.setdefault(user, deque())
        while recent and now - recent[0] >= HOUR:
            recent.popleft()
        waits = []
        last = self._last.get((user, domain))
        if last is not None and now - last < self.per_domain:
            waits.append(self.per_domain - (now - last))
        if len(recent) >= self.per_hour:
            waits.append(HOUR - (now - recent[0]))
        if waits:
            return max(1, math.ceil(max(waits)))
        if len(self._last) > 100_000:  # forget old pairs
            self._last = {k: v for k, v in self._last.items() if now - v < self.per_domain}
        self._last[(user, domain)] = now
        recent.append(now)
        return 0

    def admit(self, user: int, domain: str) -> None:
        """Count a check, or raise 429 with Retry-After."""
        seconds = self.wait(user, domain)
        if seconds:
            raise HTTPException(429, Refused(domain, seconds).message(),
                                headers={"Retry-After": str(seconds)})


class Refused(NamedTuple):
    domain: str
    seconds: int

    def message(self) -> str:
        return (f"too many live checks: try {self.domain} again in {self.seconds} s "
                "(one per domain a minute, 20 an hour)")
