"""The service's own counters for `/metrics` (docs/metrics.md): inputs by channel and outcome,
the time from receipt to commit, alerts, live checks and IMAP polls.

`tlsscope serve` runs several processes (the web and its threads, the writer, the analyst,
the readers): prometheus_client's multiprocess mode gives one view of them all. serve calls
`enable(folder)` before anything is counted; the folder is named in the environment
(PROMETHEUS_MULTIPROC_DIR), which the spawned children inherit, and each process writes its
own files there, which the scrape sums (web/metrics.py). Without `enable` (the CLI, a test of
one process) the counters live in this process alone.

Every function here is cheap and never fails the work it counts: a counter that cannot be
written (a full disk) is logged once and dropped. Label values come from our vocabularies
(channels, outcomes, statuses), except the mailbox, which the operator names.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("tlsscope.counters")
FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# receipt to commit: a group commit takes milliseconds; a queue that backs up, seconds
ALERT_OUTCOMES = ("sent", "failed", "given_up")  # failed: tried again later
RETRY = "retry"  # an input's outcome beside the reader's: the sender is to send it again
INTAKE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)


def enable(folder: str) -> None:
    """Count in `folder`, shared with the children started from now on (which find it in
    their environment). What this process counted before is not carried over."""
    os.environ[FOLDER_VARIABLE] = folder
    _choose()


def disable() -> None:
    """Count in this process alone again (serve's end: its folder is removed)."""
    os.environ.pop(FOLDER_VARIABLE, None)
    _choose()


def _choose() -> None:
    global _meters
    from prometheus_client import values

    with _lock:
        closing = getattr(values.ValueClass, "close_all_files", None)
        if closing is not None:
            closing()
        # prometheus_client picks its value class when first imported; pick it again now
        # that the folder is set (or gone), whatever imported it before
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        _meters = None


def folder() -> str | None:
    """Where this process's counters are shared (None: in this process only)."""
    return os.environ.get(FOLDER_VARIABLE) or None


class _Meters:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.inputs = Counter(
            "tlsscope_inputs", "Inputs answered by the writer, by channel and outcome "
            "(accepted, duplicate, rejected, not_a_report; retry: to be sent again)",
            ["channel", "outcome"], registry=self.registry)
        self.intake = Histogram(
            "tlsscope_intake_seconds", "From an input's receipt to the commit of its "
            "transaction", buckets=INTAKE_BUCKETS, registry=self.registry)
        self.alerts = Counter(
            "tlsscope_alerts", "Alert deliveries tried, by channel and outcome (sent, "
            "failed: tried again later, given_up)", ["channel", "outcome"],
            registry=self.registry)
        self.checks = Counter(
            "tlsscope_checks", "Live checks run, by outcome (ok, warning, error, "
            "inconclusive)", ["outcome"], registry=self.registry)
        self.imap_poll = Gauge(
            "tlsscope_imap_last_poll_timestamp_seconds", "When the mailbox was last read "
            "without error (or serve started watching it)", ["mailbox"],
            multiprocess_mode="max", registry=self.registry)


_meters: _Meters | None = None
_lock = threading.Lock()
_failed = False


def meters() -> _Meters:
    global _meters
    with _lock:
        if _meters is None:
            _meters = _Meters()
        return _meters


def _guarded(count: Any) -> None:
    global _failed
    try:
        count(meters())
    except Exception:  # loop guard: counting never fails the work counted
        if not _failed:
            _failed = True
            log.exception("a counter could not be written; counters may be short from now")


def prime(channels: Iterable[str], input_outcomes: Iterable[str],
          alert_channels: Iterable[str], check_outcomes: Iterable[str]) -> None:
    """Every label set the service counts, at 0 (serve, at its start): a counter first seen
    at 1 is no increase to Prometheus, and an alert on `increase(...) > 0` would miss the
    first event after each start."""
    def count(m: _Meters) -> None:
        outcomes = list(input_outcomes)
        for channel in channels:
            for outcome in outcomes:
                m.inputs.labels(channel=channel, outcome=outcome)
        for channel in alert_channels:
            for outcome in ALERT_OUTCOMES:
                m.alerts.labels(channel=channel, outcome=outcome)
        for outcome in check_outcomes:
            m.checks.labels(outcome=outcome)

    _guarded(count)


def input_answered(channel: str, outcome: str, received_at: float | None) -> None:
    """One input answered (`received_at`: its receipt, as time.time(); None: not known)."""
    def count(m: _Meters) -> None:
        m.inputs.labels(channel=channel, outcome=outcome).inc()
        if received_at is not None and outcome != RETRY:
            m.intake.observe(max(0.0, time.time() - received_at))

    _guarded(count)


def alert_tried(channel: str, outcome: str) -> None:
    _guarded(lambda m: m.alerts.labels(channel=channel, outcome=outcome).inc())


def check_done(outcome: str) -> None:
    _guarded(lambda m: m.checks.labels(outcome=outcome).inc())


def mailbox_polled(mailbox: str) -> None:
    """The mailbox was read without error now; serve says so too when it starts watching it,
    so that a mailbox never read since is a series that grows old, not none at all."""
    _guarded(lambda m: m.imap_poll.labels(mailbox=mailbox).set(time.time()))
