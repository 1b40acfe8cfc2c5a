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
import pickle
import resource
import time
from collections import deque
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Generic, NamedTuple, TypeVar

import msgspec

from tlsscope.children import ignore_stop_signals, start_shielded, stop_at_once
from tlsscope.notes import error
from tlsscope.parse.results import InputResult
from tlsscope.receipts import DkimVerdict
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings

log = logging.getLogger("tlsscope.reader_pool")
Answer = tuple[InputResult, DkimVerdict | None]
READY = "ready"
T = TypeVar("T")


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


class _Sent(NamedTuple):
    key: Any
    raw: RawInput
    size: int
    withdrawn: bool = False  # sent again to another reader: this copy's answer is dropped


def _size(raw: RawInput) -> int:
    return len(raw.data or b"") + len(raw.source)


class ReaderPool:
    """A few reader processes. `put` queues an input; `dispatch` hands queued inputs to the
    readers; `harvest` collects the answers that have come back and the inputs that overran,
    in whatever order they finish.

    A reader is handed up to DEPTH small inputs at once (QUEUED_BYTES in all, besides the one
    it reads): it goes from one to the next without waiting for the writer to hear its
    answer. It reads them in order, so the oldest unanswered one (its head) is the one being
    read: the one whose time budget runs, and the one that killed the reader if it dies. The
    others are sent again: those queued behind a head that has read for WITHDRAW_SECONDS go
    to another reader at once (their first copy's answer is dropped), so that no input waits
    behind a slow one for longer than that."""

    DEPTH = 4
    QUEUED_BYTES = 64 * 1024  # well below a socket pair's buffer: a send never blocks on it
    WITHDRAW_SECONDS = 0.25

    def __init__(self, settings: Settings, live: bool = True, size: int = 2) -> None:
        self.settings, self.live = settings, live
        self.seconds = settings.read_seconds
        self.readers = [_Reader(settings, live) for _ in range(max(1, size))]
        for reader in self.readers:
            reader.ready()
        self.starting: set[int] = set()  # replaced readers, not yet ready for an input
        self.waiting: deque[tuple[Any, RawInput]] = deque()  # not yet handed to a reader
        self.sent: list[deque[_Sent]] = [deque() for _ in self.readers]  # oldest first
        self.since = [0.0] * len(self.readers)  # when each head began to be read

    def close(self) -> None:
        for reader in self.readers:
            reader.stop()

    def put(self, key: Any, raw: RawInput) -> None:
        self.waiting.append((key, raw))

    def working(self) -> bool:
        """Some input is queued or being read (copies being dropped do not count)."""
        return bool(self.waiting) or any(
            not one.withdrawn for sent in self.sent for one in sent)

    def dispatch(self) -> None:
        """Hand what waits to the readers with room, the least loaded first."""
        now = time.monotonic()
        while self.waiting:
            key, raw = self.waiting[0]
            size = _size(raw)
            slots = [slot for slot in range(len(self.readers)) if self._room(slot, size, now)]
            if not slots:
                return
            slot = min(slots, key=lambda s: len(self.sent[s]))
            self.waiting.popleft()
            if not self._send(slot, raw):
                self.waiting.appendleft((key, raw))
                return
            if not self.sent[slot]:
                self.since[slot] = now
            self.sent[slot].append(_Sent(key, raw, size))

    def _room(self, slot: int, size: int, now: float) -> bool:
        if slot in self.starting:
            return False
        sent = self.sent[slot]
        if not sent:
            return True
        queued = sum(one.size for one in islice(sent, 1, None))
        return (len(sent) < self.DEPTH and queued + size <= self.QUEUED_BYTES
                and now < self.since[slot] + self.WITHDRAW_SECONDS)

    def connections(self) -> list[Connection]:
        """The pipes of the readers with inputs and of those starting, to wait on beside
        others."""
        return [self.readers[slot].conn for slot in range(len(self.readers))
                if self.sent[slot] or slot in self.starting]

    def timeout(self, longest: float) -> float:
        """How long one may wait before the soonest deadline passes (at most `longest`): a
        head's time budget, or the time after which what is queued behind it is sent again."""
        soonest = longest
        now = time.monotonic()
        for slot, sent in enumerate(self.sent):
            if sent:
                soonest = min(soonest, self.since[slot] + self.seconds - now)
                if any(not one.withdrawn for one in islice(sent, 1, None)):
                    soonest = min(soonest, self.since[slot] + self.WITHDRAW_SECONDS - now)
        return max(0.0, soonest)

    def harvest(self, ready: list[Any]) -> list[tuple[Any, Answer]]:
        """The answers among `ready` (what `wait` returned), and the inputs past their
        deadline, set aside; what was queued behind a head too slow goes to another reader."""
        for slot in list(self.starting):
            if self.readers[slot].conn in ready:
                self.readers[slot].ready(0.0)
                self.starting.discard(slot)
        out: list[tuple[Any, Answer]] = []
        for slot, sent in enumerate(self.sent):
            if sent and self.readers[slot].conn in ready:
                self._answers(slot, out)
            now = time.monotonic()
            if sent and now >= self.since[slot] + self.seconds:
                self._lose_head(slot, out, f"reading this input took longer than "
                                f"{self.seconds:g} s (read_seconds); set aside")
            elif len(sent) > 1 and now >= self.since[slot] + self.WITHDRAW_SECONDS:
                self._withdraw(slot)
        return out

    def _answers(self, slot: int, out: list[tuple[Any, Answer]]) -> None:
        """Every answer this reader has sent by now (a head each, in order)."""
        conn, sent = self.readers[slot].conn, self.sent[slot]
        while sent:
            try:
                if not conn.poll(0):
                    return
                answer = _ANSWERS.unpack(conn.recv_bytes())
            except (EOFError, OSError):  # it died reading its head: over its memory, or killed
                self._lose_head(slot, out, "the reader reading this input stopped (over its "
                                f"memory budget of {self.settings.read_memory_mb} MB?); set aside")
                return
            head = sent.popleft()
            self.since[slot] = time.monotonic()
            if not head.withdrawn:
                out.append((head.key, answer))

    def _lose_head(self, slot: int, out: list[tuple[Any, Answer]], why: str) -> None:
        """The reader is replaced and its head set aside (unless it is a copy being dropped);
        the rest it held goes back to the queue."""
        head = self.sent[slot].popleft()
        self._replace(slot)
        if not head.withdrawn:
            out.append((head.key, self._set_aside(head.raw, why)))

    def _withdraw(self, slot: int) -> None:
        """What is queued behind a slow head goes to the front of the queue, for any reader;
        the copies this one still holds are answered into the void."""
        sent = self.sent[slot]
        again = []
        for i in range(1, len(sent)):
            if not sent[i].withdrawn:
                again.append(sent[i])
                sent[i] = sent[i]._replace(withdrawn=True)
        self.waiting.extendleft((one.key, one.raw) for one in reversed(again))

    def _send(self, slot: int, raw: RawInput) -> bool:
        """Whether it went; a reader found gone with nothing to answer is replaced (one gone
        with inputs is found by harvest, which sets its head aside)."""
        try:
            self.readers[slot].conn.send_bytes(_INPUTS.pack(raw))
            return True
        except OSError:
            if not self.sent[slot]:
                self._replace(slot)
            return False

    def _replace(self, slot: int) -> None:
        """A new reader in its place; it takes inputs once it says it is ready (the others
        go on meanwhile: its start does not hold them up). What the old one still held goes
        back to the front of the queue."""
        left = [one for one in self.sent[slot] if not one.withdrawn]
        self.sent[slot].clear()
        self.waiting.extendleft((one.key, one.raw) for one in reversed(left))
        self.readers[slot].stop()
        self.readers[slot] = _Reader(self.settings, self.live)
        self.starting.add(slot)

    def _set_aside(self, raw: RawInput, message: str) -> Answer:
        log.warning("input set aside", extra={"fields": {
            "source": raw.source[:200], "why": message}})
        return InputResult(source=raw.source, errors=[error("reading_budget", message)]), None


class _Wire(Generic[T]):
    """What goes through a reader's pipe, as bytes: msgpack when it reads back equal (msgspec,
    in C: an answer packs and unpacks in a fifth of pickle's time), else pickle (a number
    over 64 bits, a lone surrogate, a NaN: whatever msgpack cannot say exactly)."""

    def __init__(self, kind: Any) -> None:
        self.encoder = msgspec.msgpack.Encoder()
        self.decoder: msgspec.msgpack.Decoder[T] = msgspec.msgpack.Decoder(kind)

    def pack(self, value: T) -> bytes:
        try:
            packed = self.encoder.encode(value)
            if self.decoder.decode(packed) == value:
                return b"m" + packed
        except Exception:  # loop guard: whatever msgpack refuses, pickle carries
            pass
        return b"p" + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def unpack(self, data: bytes) -> T:
        if data[:1] == b"m":
            return self.decoder.decode(memoryview(data)[1:])
        value: T = pickle.loads(memoryview(data)[1:])
        return value


_INPUTS: _Wire[RawInput] = _Wire(RawInput)
_ANSWERS: _Wire[Answer] = _Wire(Answer)


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
            raw = _INPUTS.unpack(conn.recv_bytes())
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
        conn.send_bytes(_ANSWERS.pack((result, verdict)))
