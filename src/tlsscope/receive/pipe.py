"""The fast pipe: `tlsscope ingest -` hands its mail to a running `tlsscope serve`.

An MTA that pipes each report mail to `tlsscope ingest -` would otherwise pay, per mail, for
loading the store's libraries and opening the database (~0.4 s). When `serve` runs for the
same store, it listens on a Unix socket (setting `pipe_socket`; "auto": next to a SQLite
database file, `FILE.pipe`), and the pipe only sends the bytes and waits for the receipt. The
receipt comes after the commit, as every acknowledgement does; when nobody listens the pipe
stores the mail itself, and a mail that was committed but not acknowledged is stored again
as a duplicate, never twice.

The exchange, one mail per connection:

    client → server   8-byte big-endian length, then the bytes of the input
    server → client   8-byte big-endian length, then JSON: {"totals": IngestTotals}
                      or {"retry": "why"} (the store is unavailable: exit 75, the MTA retries)
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import socket
import stat
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from tlsscope.errors import ConfigError, StoreUnavailable
from tlsscope.receipts import IngestTotals, Saved

if TYPE_CHECKING:
    from tlsscope.receive.files import RawInput

log = logging.getLogger("tlsscope.receive.pipe")
LENGTH = struct.Struct("!Q")
CONNECT_SECONDS = 2.0
READ_SECONDS = 30.0  # a local client sends its mail at once; a stalled one is dropped
ANSWER_SECONDS = 120.0  # the writer may be busy with a big batch


class Receipt(msgspec.Struct, omit_defaults=True):
    totals: IngestTotals | None = None
    retry: str = ""


def socket_path(setting: str, database_url: str) -> str | None:
    """Where the pipe socket of the store at `database_url` is, or None for none."""
    if setting != "auto":
        return setting or None
    if not database_url.startswith("sqlite:///"):
        return None
    database = database_url.removeprefix("sqlite:///").split("?", 1)[0]
    if not database or database == ":memory:":
        return None
    return f"{Path(database).expanduser()}.pipe"


# The client side: `ingest -`. It imports nothing of the store.

class Unanswered(Exception):
    """The server took the mail but gave no receipt in time (it may still commit it)."""


def hand_over(path: str, data: bytes, answer_seconds: float = ANSWER_SECONDS,
              ) -> IngestTotals | None:
    """The receipt from the `serve` listening at `path`, or None when none listens.

    Raises StoreUnavailable when serve says its store cannot take the mail now, Unanswered
    when it took the mail and did not answer in time.
    """
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.settimeout(CONNECT_SECONDS)
        try:
            client.connect(path)
        except (FileNotFoundError, ConnectionRefusedError, TimeoutError, OSError):
            return None  # no serve: the caller stores the mail itself
        client.settimeout(answer_seconds)
        try:
            client.sendall(LENGTH.pack(len(data)) + data)
            size = LENGTH.unpack(_exactly(client, LENGTH.size))[0]
            receipt = msgspec.json.decode(_exactly(client, min(size, 1 << 24)), type=Receipt)
        except (OSError, EOFError, msgspec.DecodeError) as exc:
            raise Unanswered(f"serve took the mail and gave no receipt: {exc}") from None
    finally:
        client.close()
    if receipt.retry or receipt.totals is None:
        raise StoreUnavailable(receipt.retry or "serve gave an empty receipt")
    return receipt.totals


def _exactly(client: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = client.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the connection closed early")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# The server side: `serve`.

Deliver = Callable[["RawInput"], Awaitable[Saved]]


async def start(path: str, deliver: Deliver, cap: int) -> asyncio.Server:
    """Listen at `path` (owner and group may connect), taking over a stale socket file."""
    _clear_stale(path)
    server = await asyncio.get_running_loop().create_unix_server(
        lambda: _protocol(deliver, cap), path)
    os.chmod(path, 0o660)
    return server


def _protocol(deliver: Deliver, cap: int) -> asyncio.StreamReaderProtocol:
    reader = asyncio.StreamReader(limit=1 << 16)
    return asyncio.StreamReaderProtocol(
        reader, lambda r, w: asyncio.ensure_future(_serve_one(r, w, deliver, cap)))


def _clear_stale(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ConfigError("pipe_socket", path, "exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # left by a serve that was killed
        return
    finally:
        probe.close()
    raise ConfigError("pipe_socket", path, "another tlsscope serve is listening there")


async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     deliver: Deliver, cap: int) -> None:
    try:
        async with asyncio.timeout(READ_SECONDS):
            size = LENGTH.unpack(await reader.readexactly(LENGTH.size))[0]
            data = await _read_capped(reader, size, cap)
        receipt = await _store(data, deliver, cap)
        body = msgspec.json.encode(receipt)
        writer.write(LENGTH.pack(len(body)) + body)
        await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
        log.warning("pipe client dropped", extra={"fields": {"why": type(exc).__name__}})
    except Exception:  # loop guard: this client gets no receipt and stores the mail itself
        log.exception("pipe input failed")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _read_capped(reader: asyncio.StreamReader, size: int, cap: int) -> bytes:
    """The input, or its first cap + 1 bytes (the rest is read and dropped): the reader then
    records it as too large, as `ingest -` would."""
    kept = await reader.readexactly(min(size, cap + 1))
    left = size - len(kept)
    while left:
        left -= len(await reader.readexactly(min(left, 1 << 20)))
    return kept


async def _store(data: bytes, deliver: Deliver, cap: int) -> Receipt:
    from tlsscope.receive.files import stream_inputs

    totals = IngestTotals()
    try:
        for raw in stream_inputs(io.BytesIO(data), "<stdin>", None, cap):
            totals.add(await deliver(raw._replace(channel="stdin")))
    except StoreUnavailable as exc:
        return Receipt(retry=str(exc))
    return Receipt(totals=totals)
