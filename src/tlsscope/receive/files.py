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
from typing import BinaryIO, NamedTuple

from tlsscope.parse.mbox import split_mbox


class RawInput(NamedTuple):
    source: str
    data: bytes | None
    """None when the input could not be read; `problem` then says why."""
    filename: str | None = None
    received_at: dt.datetime | None = None
    problem: str | None = None
    declared_type: str | None = None
    """The media type the sender declared (HTTP Content-Type); "" when it declared none."""
    channel: str = "file"
    """How it came: https | smtp | lmtp | imap | file | stdin (the report's provenance)."""
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


def iter_inputs(paths: Iterable[str], cap: int) -> Iterator[RawInput]:
    for path in expand(paths):
        if path == "-":
            yield from (raw._replace(channel="stdin")
                        for raw in _stream(sys.stdin.buffer, "<stdin>", None, cap))
            continue
        try:
            with open(path, "rb") as handle:
                yield from _stream(handle, path, os.path.basename(path), cap)
        except OSError as exc:
            yield RawInput(path, None, problem=f"cannot read: {exc.strerror or exc}")


def _stream(handle: BinaryIO, source: str, filename: str | None, cap: int) -> Iterator[RawInput]:
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
