"""The child processes of `tlsscope serve` (the writer, the analyst): started shielded from
SIGINT and SIGTERM, watched, and started again when one dies.

A signal sent to the whole process group (what systemd does by default, and Ctrl-C in a
terminal) must not kill a child in the middle of a batch: children ignore both, and stop when
the parent tells them to, or when their pipe to it closes (the parent is gone). A child that
dies all the same (kill -9, the OOM killer) is logged and replaced: after 0.5 s, then twice as
long each time up to 30 s; the wait starts over once a child has run for a minute.

    start_shielded        the parent's side: SIGINT/SIGTERM blocked while the child starts
    ignore_stop_signals   the child's first line: both ignored from then on
    Supervisor            a thread that restarts the children that died
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from multiprocessing import resource_tracker
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Protocol

log = logging.getLogger("tlsscope.children")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def start_shielded(process: BaseProcess) -> None:
    """Start `process` with SIGINT and SIGTERM blocked: a signal that reaches the new child
    before it ignores them (an interpreter takes a second to start) stays pending, and is
    dropped once it does."""
    # The tracker's own start unblocks both signals (multiprocessing/resource_tracker.py):
    # have it running before blocking them.
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_stop_signals() -> None:
    """In the child: ignore SIGINT and SIGTERM (the parent says when to stop), then take
    them off the blocked set that `start_shielded` handed down."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def stop_at_once(process: BaseProcess, seconds: float = 2.0) -> None:
    """SIGKILL (a shielded child ignores SIGTERM), then reap it."""
    if process.is_alive():
        process.kill()
    process.join(seconds)


class Child(Protocol):
    """What the supervisor needs of a child: its current process, and a way to replace it."""

    name: str

    @property
    def process(self) -> BaseProcess: ...

    @property
    def started(self) -> float: ...  # time.monotonic() when `process` was started

    def restart(self) -> None: ...


class Supervisor:
    """Restarts the children that die, with a growing wait, until `stop`."""

    def __init__(self, children: Sequence[Child], *, first: float = 0.5,
                 longest: float = 30.0, steady: float = 60.0) -> None:
        self.children, self.first, self.longest, self.steady = children, first, longest, steady
        self._waits = {child.name: first for child in children}
        self._due: dict[str, float] = {}  # name -> when to restart it
        self._stop = threading.Event()
        self._wake, self._waker = os.pipe()  # written to by `stop`, to end a wait at once
        self._thread = threading.Thread(target=self._run, name="tlsscope-supervisor",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No restart from now on (the children are being stopped on purpose)."""
        if self._stop.is_set():
            return
        self._stop.set()
        os.write(self._waker, b"!")
        if self._thread.is_alive():
            self._thread.join(2.0)
        if not self._thread.is_alive():
            os.close(self._wake)
            os.close(self._waker)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for child in self.children:
                if child.name in self._due:
                    if now >= self._due[child.name]:
                        self._restart(child)
                elif child.process.exitcode is not None:
                    self._died(child, now)
                elif getattr(child, "stuck", lambda: False)():
                    log.error("process hung: stopped to be replaced", extra={"fields": {
                        "process": child.name, "pid": child.process.pid}})
                    child.process.kill()  # seen dead on the next pass, and restarted
            watched = [child.process.sentinel for child in self.children
                       if child.name not in self._due]
            soonest = min((due - now for due in self._due.values()), default=1.0)
            wait([self._wake, *watched], timeout=max(0.01, min(soonest, 1.0)))

    def _died(self, child: Child, now: float) -> None:
        ran = now - child.started
        if ran >= self.steady:
            self._waits[child.name] = self.first
        delay = self._schedule(child, now)
        log.error("process died", extra={"fields": {
            "process": child.name, "pid": child.process.pid,
            "exit_code": child.process.exitcode, "ran_seconds": round(ran, 1),
            "restart_in": delay}})

    def _schedule(self, child: Child, now: float) -> float:
        delay = self._waits[child.name]
        self._waits[child.name] = min(delay * 2, self.longest)
        self._due[child.name] = now + delay
        return delay

    def _restart(self, child: Child) -> None:
        del self._due[child.name]
        if self._stop.is_set():
            return
        try:
            child.restart()  # sets child.process only once the new one has started
        except Exception as exc:  # loop guard: no process (EAGAIN, ENOMEM): try again later
            delay = self._schedule(child, time.monotonic())
            log.exception("process could not be restarted", extra={"fields": {
                "process": child.name, "error": f"{type(exc).__name__}: {exc}",
                "restart_in": delay}})
