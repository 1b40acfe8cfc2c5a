"""Re-checks by `tlsscope serve`: every domain with reports on a schedule, and a domain soon
after a report with failures for it is stored, so findings carry current live evidence.

The store is the only channel, and the queue in it (store/recheck_rows.py) is the fleet's:
the transaction that stores a report with failures marks its domain, whichever process
stored it (this serve's writer, another node's, `tlsscope ingest`), and each node takes one
due domain at a time with a claim, so a domain is checked once per interval however many
nodes run.

An inconclusive check (a lookup got no answer) is stored but does not count as a check: the
domain stays due (a failing one stays failing), and is tried again after the minimum gap
rather than at every look.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from tlsscope.app.checks import check_now
from tlsscope.app.lease import node_name
from tlsscope.check.model import INCONCLUSIVE
from tlsscope.check.run import Options
from tlsscope.settings import Settings
from tlsscope.store import Store, recheck_rows

log = logging.getLogger("tlsscope.recheck")

Clock = Callable[[], dt.datetime]

# How long a claimed domain is kept from other nodes: far more than a check takes (its
# lookups and connections are bounded by check_timeout), so only a node that died mid-check
# makes another wait this long.
CLAIM_HOLD = dt.timedelta(minutes=10)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Rechecker:
    def __init__(self, store: Store, settings: Settings, clock: Clock = _utcnow) -> None:
        self.store = store
        self.options = Options.of(settings)
        every = (dt.timedelta(hours=settings.check_every_hours)
                 if settings.check_every_hours > 0 else None)
        listed = settings.accept_domains
        self.rules = recheck_rows.Rules(
            every=every, on_failure=settings.check_on_failure,
            min_gap=dt.timedelta(minutes=settings.check_min_gap_minutes),
            owned_only=not settings.check_unowned,
            listed={d.lower().rstrip(".") for d in listed} if isinstance(listed, list) else ())
        self.poll = settings.check_poll_seconds
        self.clock = clock
        self.holder = node_name()

    @property
    def enabled(self) -> bool:
        return self.rules.every is not None or self.rules.on_failure

    def due(self) -> list[str]:
        """The domains due now that no node has claimed: those with failures no check has
        answered first, then the scheduled. Reports come from anyone; only domains an
        organisation owns or accept_domains lists are probed (unless check_unowned)."""
        self.store.write(recheck_rows.fold_all)
        return self.store.read(recheck_rows.due, self.rules, self.clock())

    def queue(self) -> dict[str, int]:
        """The fleet's queue at a glance (`tlsscope jobs`)."""
        self.store.write(recheck_rows.fold_all)
        return self.store.read(recheck_rows.totals, self.rules, self.clock())

    def claim(self) -> str | None:
        """Take the next due domain for this node (None: nothing is due)."""
        taken = self.store.write(recheck_rows.claim, self.rules, self.clock(), self.holder,
                                 CLAIM_HOLD)
        return taken[0] if taken else None

    def check(self, domain: str) -> None:
        """Check `domain` now; storing the check gives its claim back (checks_rows.save)."""
        result = check_now(self.store, self.options, domain, now=self.clock())
        unanswered = [s.line for s in result.steps if s.status == INCONCLUSIVE]
        log.info("domain re-checked", extra={"fields": {
            "domain": domain, "status": result.status, "seconds": result.seconds,
            **({"inconclusive": unanswered[:5]} if unanswered else {})}})

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: claim a due domain and check it, until none is due; then wait."""
        while not stop.is_set():
            try:
                domain = self.claim()
            except Exception:  # a lost database must not stop the re-checks for good
                log.exception("cannot tell which domains are due for a re-check")
                domain = None
            if domain is None:
                stop.wait(self.poll)
                continue
            try:
                self.check(domain)
            except Exception:  # one broken check must not stop the others
                log.exception("re-check failed", extra={"fields": {"domain": domain}})
