"""Reading live inputs outside the writer, each under a time and a memory budget.

`serve`'s writer stores every input; if it also read them, one input that takes long to read
(a DKIM lookup to a nameserver that does not answer, a pathological structure) would hold up
every acknowledgement behind it. Here each input is read, and its DKIM checked, in one of a
few reader processes:

    read_seconds     an input whose reading takes longer is set aside: its reader is killed
                     and replaced, the input quarantined with the reason (reading_budget)
    read_memory_mb   a reader's address-space limit: an input that needs more fails alone
                     (MemoryError, or the reader's death), and is quarantined the same way

Each answer comes back as soon as it is read, with the mail's DKIM verdict, so that the
writer only stores (writer_loop: what is read is stored at once, without waiting for the
slowest read).
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from tlsscope.children import ignore_stop_signals, start_shielded, stop_at_once
from tlsscope.notes import error
from tlsscope.parse.results import InputResult
from tlsscope.receipts import DkimVerdict
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings

log = logging.getLogger("tlsscope.reader_pool")
Answer = tuple[InputResult, DkimVerdict | None]
READY = "ready"


class _Reader:
    def __init__(self, settings: Settings, live: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_reader_main, name="tlsscope-reader", args=(child, settings, live),
            daemon=True)
        start_shielded(self.process)
        child.close()

    def ready(self, seconds: float = 60.0) -> None:
        """Wait until it has loaded the reader (its first input's time budget must not pay
        for the interpreter's start)."""
        try:
            if self.conn.poll(seconds):
                self.conn.recv()
        except (EOFError, OSError):
            log.error("a reader process did not start", extra={"fields": {
                "exit_code": self.process.exitcode}})

    def stop(self) -> None:
        self.conn.close()
        stop_at_once(self.process, 1.0)


class ReaderPool:
    """A few reader processes. `start` hands an input to an idle one; `harvest` collects the
    answers that have come back and the inputs that overran, in whatever order they finish."""

    def __init__(self, settings: Settings, live: bool = True, size: int = 2) -> None:
        self.settings, self.live = settings, live
        self.seconds = settings.read_seconds
        self.readers = [_Reader(settings, live) for _ in range(max(1, size))]
        for reader in self.readers:
            reader.ready()
        self.starting: set[int] = set()  # replaced readers, not yet ready for an input
        self.busy: dict[int, tuple[Any, RawInput, float]] = {}  # slot -> (key, input, deadline)

    def close(self) -> None:
        for reader in self.readers:
            reader.stop()

    def idle(self) -> list[int]:
        return [slot for slot in range(len(self.readers))
                if slot not in self.busy and slot not in self.starting]

    def start(self, slot: int, key: Any, raw: RawInput) -> None:
        self._send(slot, raw)
        self.busy[slot] = (key, raw, time.monotonic() + self.seconds)

    def connections(self) -> list[Connection]:
        """The pipes of the busy readers and of those starting, to wait on beside others."""
        return [self.readers[slot].conn for slot in (*self.busy, *self.starting)]

    def timeout(self, longest: float) -> float:
        """How long one may wait before the soonest deadline passes (at most `longest`)."""
        if not self.busy:
            return longest
        soonest = min(deadline for _, _, deadline in self.busy.values())
        return max(0.0, min(longest, soonest - time.monotonic()))

    def harvest(self, ready: list[Any]) -> list[tuple[Any, Answer]]:
        """The answers among `ready` (what `wait` returned), and the inputs past their
        deadline, set aside; their slots become idle."""
        for slot in list(self.starting):
            if self.readers[slot].conn in ready:
                self.readers[slot].ready(0.0)
                self.starting.discard(slot)
        out = []
        for slot, (key, raw, deadline) in list(self.busy.items()):
            if self.readers[slot].conn in ready:
                out.append((key, self._receive(slot, raw)))
            elif time.monotonic() >= deadline:
                out.append((key, self._overrun(slot, raw)))
            else:
                continue
            del self.busy[slot]
        return out

    def _send(self, slot: int, raw: RawInput) -> None:
        try:
            self.readers[slot].conn.send(raw)
        except OSError:  # the reader is gone: a new one takes the input
            self._replace(slot)
            self.readers[slot].ready()
            self.starting.discard(slot)
            self.readers[slot].conn.send(raw)

    def _receive(self, slot: int, raw: RawInput) -> Answer:
        try:
            answer: Answer = self.readers[slot].conn.recv()
            return answer
        except (EOFError, OSError):  # it died reading: over its memory, or killed
            self._replace(slot)
            return self._set_aside(raw, "reading_budget", "the reader reading this input "
                                   f"stopped (over its memory budget of "
                                   f"{self.settings.read_memory_mb} MB?); set aside")

    def _overrun(self, slot: int, raw: RawInput) -> Answer:
        self._replace(slot)
        return self._set_aside(raw, "reading_budget", f"reading this input took longer than "
                               f"{self.seconds:g} s (read_seconds); set aside")

    def _replace(self, slot: int) -> None:
        """A new reader in its place; it takes inputs once it says it is ready (the others
        go on meanwhile: its start does not hold them up)."""
        self.readers[slot].stop()
        self.readers[slot] = _Reader(self.settings, self.live)
        self.starting.add(slot)

    def _set_aside(self, raw: RawInput, code: str, message: str) -> Answer:
        log.warning("input set aside", extra={"fields": {
            "source": raw.source[:200], "why": message}})
        return InputResult(source=raw.source, errors=[error(code, message)]), None


def _reader_main(conn: Connection, settings: Settings, live: bool) -> None:
    ignore_stop_signals()
    limit = settings.read_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from tlsscope.batch import read_raw
    from tlsscope.receive.dkim import DkimVerifier

    dkim = DkimVerifier.for_intake(settings, live)
    conn.send(READY)
    while True:
        try:
            raw: Any = conn.recv()
        except (EOFError, OSError):  # the writer is gone
            return
        try:
            result = read_raw(raw, settings)
            verdict = dkim.check(raw.data or b"", result) if dkim else None
        except MemoryError:
            result = InputResult(source=raw.source, errors=[error(
                "reading_budget", f"reading this input needs more than "
                f"{settings.read_memory_mb} MB (read_memory_mb); set aside")])
            verdict = None
        conn.send((result, verdict))
