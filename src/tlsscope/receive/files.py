"""Files, folders (recursively, in sorted order), stdin and mbox files as `RawInput`s.

An mbox (a file that starts with a `From ` line) is streamed message by message, so its size
does not matter. Any other file larger than the input cap is not read at all.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, NamedTuple

from tlsscope.parse.mbox import split_mbox
from tlsscope.vocab import Channel


class RawInput(NamedTuple):
    source: str
    data: bytes | None
    """None when the input could not be read; `problem` then says why."""
    filename: str | None = None
    received_at: dt.datetime | None = None
    problem: str | None = None
    declared_type: str | None = None
    """The media type the sender declared (HTTP Content-Type); "" when it declared none."""
    channel: str = Channel.FILE
    """How it came, a `Channel` (the report's provenance)."""
    peer: str = ""
    """The submitting address: the HTTPS client, the SMTP or LMTP peer."""


def expand(paths: Iterable[str]) -> Iterator[str]:
    """Files as given, folders walked recursively in sorted order, `-` kept for stdin."""
    for path in paths:
        if path != "-" and os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    yield os.path.join(root, name)
        else:
            yield path


def iter_inputs(paths: Iterable[str], cap: int,
                stdin: BinaryIO | None = None) -> Iterator[RawInput]:
    """`stdin`: what `-` reads (default: the process's standard input)."""
    for path in expand(paths):
        if path == "-":
            yield from (raw._replace(channel=Channel.STDIN) for raw in stream_inputs(
                stdin or sys.stdin.buffer, "<stdin>", None, cap))
            continue
        try:
            with open(path, "rb") as handle:
                yield from stream_inputs(handle, path, os.path.basename(path), cap)
        except OSError as exc:
            yield RawInput(path, None, problem=f"cannot read: {exc.strerror or exc}")


def stream_inputs(handle: BinaryIO, source: str, filename: str | None,
                  cap: int) -> Iterator[RawInput]:
    """One input, or each message of an mbox, from an open binary stream."""
    now = dt.datetime.now(dt.UTC)
    data = handle.read(cap + 1)
    if data.startswith(b"From "):  # an mbox: split it as a stream, whatever its size
        lines = itertools.chain(io.BytesIO(data), handle)
        for message in split_mbox(lines, cap):
            where = f"{source}#{message.number}"
            if message.data is None:
                yield RawInput(where, None, None, now, f"message of {message.size:,} bytes is "
                               f"more than the input cap of {cap:,}")
            else:
                yield RawInput(where, message.data, None, now)
        return
    if len(data) > cap:
        yield RawInput(source, None, filename, now, f"input is more than the cap of {cap:,} bytes")
        return
    yield RawInput(source, data, filename, now)


class _Prefixed(io.RawIOBase):
    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._at, self._rest = memoryview(head), 0, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._at < len(self._head):
            size = min(len(buffer), len(self._head) - self._at)
            buffer[:size] = self._head[self._at:self._at + size]
            self._at += size
            return size
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def prefixed(head: bytes, rest: BinaryIO) -> BinaryIO:
    """A stream whose first bytes were read already: `head`, then what is left of `rest`."""
    return io.BufferedReader(_Prefixed(head, rest))
