"""Re-checks by `tlsscope serve`: every domain with reports on a schedule, and a domain soon
after a report with failures for it is stored, so findings carry current live evidence.

The store is the only channel: reports are written by the intake's process, and this thread
asks the store what arrived since its last look (reports after the last id it saw), so it also
sees reports stored by `tlsscope ingest` or another serve.

An inconclusive check (a lookup got no answer) is stored but does not count as a check: the
domain stays due (a failing one stays pending), and is tried again after the minimum gap
rather than at every look (this process remembers when it last tried).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from tlsscope.app.checks import check_now
from tlsscope.check.model import INCONCLUSIVE
from tlsscope.check.run import Options
from tlsscope.settings import Settings
from tlsscope.store import Store, accounts, checks_rows, queries

log = logging.getLogger("tlsscope.recheck")

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Rechecker:
    def __init__(self, store: Store, settings: Settings, clock: Clock = _utcnow) -> None:
        self.store = store
        self.options = Options.of(settings)
        self.every = (dt.timedelta(hours=settings.check_every_hours)
                      if settings.check_every_hours > 0 else None)
        self.on_failure = settings.check_on_failure
        self.min_gap = dt.timedelta(minutes=settings.check_min_gap_minutes)
        self.poll = settings.check_poll_seconds
        self.unowned = settings.check_unowned
        listed = settings.accept_domains
        self.listed = {d.lower().rstrip(".") for d in listed} if isinstance(listed, list) else set()
        self.clock = clock
        # Failures in reports after this one are new.
        self.seen = store.read(checks_rows.last_report_id)
        self.pending: set[str] = set()  # failing domains waiting for their minimum gap
        self.tried: dict[str, dt.datetime] = {}  # domain → its last inconclusive check

    @property
    def enabled(self) -> bool:
        return self.every is not None or self.on_failure

    def owned(self) -> set[str] | None:
        """The domains that may be re-checked (None: any): owned by an organisation or
        listed in accept_domains. Reports come from anyone; probes go out only for these."""
        if self.unowned:
            return None
        return self.store.read(accounts.assigned_domains) | self.listed

    def due(self) -> list[str]:
        """The domains to check now: those with new failures first, then the scheduled."""
        due = self._due()
        allowed = self.owned()
        return due if allowed is None else [d for d in due if d in allowed]

    def _due(self) -> list[str]:
        now = self.clock()
        last = self.store.read(checks_rows.last_checked)
        if self.on_failure:
            failing = self.store.read(checks_rows.failing_since, self.seen)
            if failing:
                self.seen = max(self.seen, *failing.values())
            self.pending.update(failing)
        waiting = {d for d, at in self.tried.items() if now - at < self.min_gap}
        urgent = sorted(d for d in self.pending - waiting
                        if d not in last or now - last[d] >= self.min_gap)
        scheduled: list[str] = []
        if self.every is not None:
            every = self.every
            scheduled = [d for d in self.store.read(queries.all_domains)
                         if d not in urgent and d not in waiting
                         and (d not in last or now - last[d] >= every)]
        return urgent + scheduled

    def check(self, domain: str) -> None:
        result = check_now(self.store, self.options, domain, now=self.clock())
        if result.status == INCONCLUSIVE:
            self.tried[domain] = result.checked_at
        else:
            self.tried.pop(domain, None)
            self.pending.discard(domain)
        unanswered = [s.line for s in result.steps if s.status == INCONCLUSIVE]
        log.info("domain re-checked", extra={"fields": {
            "domain": domain, "status": result.status, "seconds": result.seconds,
            **({"inconclusive": unanswered[:5]} if unanswered else {})}})

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: check what is due, one domain at a time, then wait."""
        while not stop.is_set():
            try:
                due = self.due()
            except Exception:  # a lost database must not stop the re-checks for good
                log.exception("cannot tell which domains are due for a re-check")
                due = []
            for domain in due:
                if stop.is_set():
                    return
                try:
                    self.check(domain)
                except Exception:  # one broken check must not stop the others
                    log.exception("re-check failed", extra={"fields": {"domain": domain}})
            stop.wait(self.poll)
