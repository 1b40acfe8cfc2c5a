"""The sender: claim the deliveries that are due, send them, keep each attempt.

    deliver_due(store, settings)   one pass until nothing is due: what `tlsscope alerts
                                   deliver` and serve's alert thread run
    Sender.run(stop)               serve's loop: a pass every alerts_poll_seconds

A delivery is claimed (leased for LEASE) in one short transaction, sent outside any
transaction, and its outcome recorded in another. Killed between the two, the lease runs out
and the delivery is sent again, with the same alert ids (the `X-Tlsscope-Delivery` header and
the body's `id`), which receivers dedupe on; nothing else is ever sent twice, and nothing
written to the outbox is lost. Webhooks of one pass go out together (alerts_concurrency);
mails one after another, each in its own connection to the relay.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, NamedTuple

import msgspec

from tlsscope import counters
from tlsscope.alert import channels, render, timing
from tlsscope.settings import Settings
from tlsscope.store import Store, alerts_rows
from tlsscope.store.alerts_rows import Claimed, Outcome

log = logging.getLogger("tlsscope.alerts")
CLAIM = 200  # deliveries claimed at once, at most
FLUSH = 50  # outcomes recorded together, at most
FLUSH_SECONDS = 0.1  # and at least this often while any wait
MAIL_AT_ONCE = 4  # mails handed to the relay at once
SCAN_SECONDS = 600.0  # serve looks for silent domains this often


class Pass(NamedTuple):
    delivered: int
    retrying: int
    failed: int
    # What went wrong, one line per delivery not delivered: "rule 2 (email): ..."
    problems: tuple[str, ...] = ()

    def counts(self) -> tuple[int, int, int]:
        return self.delivered, self.retrying, self.failed


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _generic_post(claimed: Claimed, alert: dict[str, Any], settings: Settings,
                  now: dt.datetime) -> tuple[bytes, dict[str, str]]:
    body = msgspec.json.encode(render.generic(alert, settings.public_url, now,
                                              claimed.rule.lang))
    headers = {"X-Tlsscope-Event": str(alert["event"]), "X-Tlsscope-Delivery": str(alert["key"])}
    if claimed.rule.secret:
        headers["X-Tlsscope-Signature"] = channels.signature(claimed.rule.secret, body,
                                                             channels.now_unix(now))
    return body, headers


def _chat_body(claimed: Claimed, settings: Settings, now: dt.datetime) -> bytes:
    rule = claimed.rule
    if rule.channel == "slack":
        payload = render.slack(claimed.alerts, rule.lang, settings.public_url)
    elif rule.channel == "teams":
        payload = render.teams(claimed.alerts, rule.lang, settings.public_url)
    else:
        payload = render.discord(claimed.alerts, rule.lang, settings.public_url, now)
    return msgspec.json.encode(payload)


def _webhook(hooks: channels.Webhooks, claimed: Claimed, settings: Settings,
             now: dt.datetime) -> channels.Sent:
    if claimed.rule.channel != "generic":
        return hooks.post(claimed.rule.target, _chat_body(claimed, settings, now), {})
    sent = channels.Sent(True, None, "", False, 0.0)
    for alert in claimed.alerts:  # one per delivery, as a generic hook's are made
        body, headers = _generic_post(claimed, alert, settings, now)
        sent = hooks.post(claimed.rule.target, body, headers)
        if not sent.delivered:
            break
    return sent


def _mail(claimed: Claimed, settings: Settings, now: dt.datetime) -> channels.Sent:
    sender = channels.mail_from(settings)
    message = render.mail(claimed.alerts, claimed.rule.lang, settings.public_url, sender,
                          claimed.rule.target, now)
    return channels.send_mail(settings, message, [claimed.rule.target])


def _send(claimed: list[Claimed], settings: Settings, clock: Callable[[], dt.datetime],
          record: Callable[[list[Outcome]], None]) -> list[Outcome]:
    """Send every claimed delivery, alerts_concurrency at once (mails MAIL_AT_ONCE of them),
    recording outcomes as they come, FLUSH at a time and at least every FLUSH_SECONDS: a pass
    killed half-way has kept what it sent, and only the attempts still in flight are sent
    again. (Threads and httpx's blocking client: its asyncio pool, with many requests
    waiting, spends more time assigning them to connections than sending them.)"""
    hooks = channels.Webhooks(settings)
    mails = threading.Semaphore(MAIL_AT_ONCE)
    now = clock()

    def one(item: Claimed) -> Outcome:
        try:
            if item.rule.channel == "email":
                with mails:
                    sent = _mail(item, settings, now)
            else:
                sent = _webhook(hooks, item, settings, now)
        except Exception as exc:  # loop guard: one broken delivery is that one's failure
            log.exception("alert delivery failed", extra={"fields": {
                "delivery": item.delivery}})
            sent = channels.Sent(False, None, f"{type(exc).__name__}: {exc}"[:500], True, 0.0)
        return _outcome(item, sent, clock())

    done: list[Outcome] = []
    waiting: list[Outcome] = []
    flushed = time.monotonic()
    pool = ThreadPoolExecutor(settings.alerts_concurrency, thread_name_prefix="tlsscope-alert")
    try:
        pending = {pool.submit(one, item) for item in claimed}
        while pending:
            finished, pending = wait(pending, timeout=FLUSH_SECONDS,
                                     return_when=FIRST_COMPLETED)
            waiting += [future.result() for future in finished]
            if waiting and (len(waiting) >= FLUSH or not pending
                            or time.monotonic() - flushed >= FLUSH_SECONDS):
                record(waiting)
                done += waiting
                waiting, flushed = [], time.monotonic()
        return done
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        hooks.close()


def _outcome(item: Claimed, sent: channels.Sent, at: dt.datetime) -> Outcome:
    wait = timing.retry_after(item.attempt) if sent.retry and not item.test else None
    return Outcome(delivery=item.delivery, attempt=item.attempt, at=at,
                   seconds=sent.seconds, delivered=sent.delivered, status=sent.status,
                   error=sent.error, next_at=None if sent.delivered or wait is None
                   else at + wait)


def claim_size(settings: Settings) -> int:
    """As many deliveries as can be sent within the lease: rounds of alerts_timeout, each
    round MAIL_AT_ONCE mails (the slower way out) at worst."""
    rounds = max(1, int(settings.alerts_lease_seconds / settings.alerts_timeout) - 1)
    return max(1, min(CLAIM, rounds * MAIL_AT_ONCE))


def deliver_due(store: Store, settings: Settings, clock: Callable[[], dt.datetime] = _utcnow,
                only: int | None = None, most: int | None = None) -> Pass:
    """Turn the changes stored since into alerts (outbox.fan_out), then send what is due, a
    claim at a time, until nothing is (or `most` deliveries were tried); `only`: that one
    delivery (a test)."""
    from tlsscope.alert import outbox

    if only is None:
        outbox.fan_out(store, clock())
    delivered = retrying = failed = tried = 0
    problems: list[str] = []
    lease = dt.timedelta(seconds=settings.alerts_lease_seconds)
    size = claim_size(settings)
    while most is None or tried < most:
        claimed = store.write(alerts_rows.claim, clock(), lease,
                              size if most is None else min(size, most - tried), only)
        if not claimed:
            break
        by_id = {item.delivery: item for item in claimed}
        outcomes = _send(claimed, settings, clock,
                         lambda done: store.write(alerts_rows.record, done))
        tried += len(claimed)
        for outcome in outcomes:
            item = by_id[outcome.delivery]
            if outcome.delivered:
                delivered += 1
            elif outcome.next_at is not None:
                retrying += 1
            else:
                failed += 1
            sent, later, given_up = counters.ALERT_OUTCOMES
            counters.alert_tried(item.rule.channel, sent if outcome.delivered else
                                 later if outcome.next_at is not None else given_up)
            fields = {"delivery": item.delivery, "rule": item.rule.id,
                      "channel": item.rule.channel, "attempt": item.attempt,
                      "alerts": [a["key"] for a in item.alerts][:20]}
            if outcome.delivered:
                log.info("alert delivered", extra={"fields": fields})
            else:
                problems.append(f"rule {item.rule.id} ({item.rule.channel}), delivery "
                                f"{item.delivery}: {outcome.error}")
                log.warning("alert not delivered", extra={"fields": {
                    **fields, "error": outcome.error, "status": outcome.status,
                    "next_attempt": outcome.next_at.isoformat() if outcome.next_at else None}})
        if only is not None:
            break
    return Pass(delivered, retrying, failed, tuple(problems))


class Sender:
    """serve's alert thread: deliveries, the silence scan, the schedule of digests."""

    def __init__(self, store: Store, settings: Settings,
                 extra: list[Callable[[], object]] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.extra = extra or []
        self._scanned = 0.0

    def _silence(self) -> None:
        """At most every SCAN_SECONDS: silence is counted in days."""
        from tlsscope.alert import outbox

        if time.monotonic() - self._scanned >= SCAN_SECONDS or not self._scanned:
            self._scanned = time.monotonic()
            outbox.silence(self.store, self.settings.alerts_silent_days)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            for step in (self._silence, lambda: deliver_due(self.store, self.settings),
                         *self.extra):
                if stop.is_set():
                    return
                try:
                    step()
                except Exception:  # loop guard: a lost database must not stop alerting
                    log.exception("alert pass failed")
            stop.wait(self.settings.alerts_poll_seconds)
