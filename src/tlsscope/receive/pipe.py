"""The fast pipe: `tlsscope ingest -` hands its mail to a running `tlsscope serve`.

An MTA that pipes each report mail to `tlsscope ingest -` would otherwise pay, per mail, for
loading the store's libraries and opening the database (~0.4 s). When `serve` runs for the
same store, it listens on a Unix socket (setting `pipe_socket`; "auto": next to a SQLite
database file, `FILE.pipe`), and the pipe only sends the bytes and waits for the receipt. The
receipt comes after the commit, as every acknowledgement does; when nobody listens the pipe
stores the mail itself, and a mail that was committed but not acknowledged is stored again
as a duplicate, never twice.

The exchange, one mail per connection:

    client → server   the store's identity (32 bytes: which database it means), an 8-byte
                      big-endian length, then the bytes of the input
    server → client   8-byte big-endian length, then JSON: {"totals": IngestTotals},
                      {"retry": "why"} (the store is unavailable: exit 75, the MTA retries)
                      or {"other_store": true} (the client stores the mail itself)

Serve takes at most MAX_CONNECTIONS at once (more are closed at once: those clients store
their mail themselves) and reads and stores at most MAX_ACTIVE inputs at a time, so memory
stays under MAX_ACTIVE x max_input_bytes whatever the clients do.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import socket
import stat
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from tlsscope.errors import ConfigError, StoreUnavailable
from tlsscope.receipts import IngestTotals, Saved
from tlsscope.vocab import Channel

if TYPE_CHECKING:
    import asyncio

    from tlsscope.receive.files import RawInput

log = logging.getLogger("tlsscope.receive.pipe")
LENGTH = struct.Struct("!Q")
CONNECT_SECONDS = 2.0
READ_SECONDS = 30.0  # a local client sends its mail at once; a stalled one is dropped
MAX_CONNECTIONS = 64
MAX_ACTIVE = 4
IDENTITY = 32


class Receipt(msgspec.Struct, omit_defaults=True):
    totals: IngestTotals | None = None
    retry: str = ""
    other_store: bool = False


def store_identity(database_url: str) -> bytes:
    """Which database a URL means, the same for the client and serve: a SQLite file by its
    real path, any other by its URL without the password."""
    if database_url.startswith("sqlite:///"):
        database = database_url.removeprefix("sqlite:///").split("?", 1)[0]
        key = "sqlite:" + os.path.realpath(os.path.expanduser(database))
    else:
        head, at, tail = database_url.rpartition("@")
        if at and head.count(":") > 1:  # scheme://user:password@...: drop the password
            head = head.rsplit(":", 1)[0]
        key = head + at + tail
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


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


class Unreachable(Exception):
    """Something is at the socket, but this process may not use it (permissions)."""


def hand_over(path: str, data: bytes, database_url: str, answer_seconds: float,
              ) -> IngestTotals | None:
    """The receipt from the `serve` of `database_url` listening at `path`, or None when none
    listens there (or the one there serves another store).

    Raises StoreUnavailable when serve says its store cannot take the mail now, Unanswered
    when it took the mail and did not answer within `answer_seconds`, Unreachable when the
    socket is there and may not be used.
    """
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.settimeout(CONNECT_SECONDS)
        try:
            client.connect(path)
        except PermissionError as exc:
            raise Unreachable(f"cannot use the pipe socket {path}: {exc.strerror}") from None
        except OSError:  # none, refused, a timeout: no serve; the caller stores the mail
            return None
        client.settimeout(answer_seconds)
        try:
            client.sendall(store_identity(database_url) + LENGTH.pack(len(data)) + data)
            size = LENGTH.unpack(_exactly(client, LENGTH.size))[0]
            receipt = msgspec.json.decode(_exactly(client, min(size, 1 << 24)), type=Receipt)
        except (OSError, EOFError, msgspec.DecodeError) as exc:
            raise Unanswered(f"serve took the mail and gave no receipt: {exc}") from None
    finally:
        client.close()
    if receipt.other_store:
        return None
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


class PipeServer:
    """serve's end: one mail per connection, for the store `database_url` names."""

    def __init__(self, path: str, deliver: Deliver, cap: int, database_url: str) -> None:
        import asyncio

        self.path, self.deliver, self.cap = path, deliver, cap
        self.identity = store_identity(database_url)
        self.connections = 0
        self._serving: set[Any] = set()  # the tasks of the connections in hand
        self.active = asyncio.Semaphore(MAX_ACTIVE)
        self.server: asyncio.Server | None = None
        self._inode = 0

    async def start(self) -> asyncio.Server:
        """Listen at `path` (owner and group may connect), taking over a stale socket."""
        import asyncio

        _clear_stale(self.path)
        self.server = await asyncio.get_running_loop().create_unix_server(
            self._protocol, self.path)
        os.chmod(self.path, 0o660)
        self._inode = os.stat(self.path).st_ino
        return self.server

    def remove(self) -> None:
        """Delete the socket file, if it is still this server's."""
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)

    def _protocol(self) -> Any:
        import asyncio

        reader = asyncio.StreamReader(limit=1 << 16)

        def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            task = asyncio.ensure_future(self._serve_one(r, w))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

        return asyncio.StreamReaderProtocol(reader, serve)

    async def served(self, seconds: float) -> None:
        """Wait, at most `seconds`, for the connections in hand to end (after closing the
        server: a connection ended meanwhile has closed its socket)."""
        import asyncio

        if self._serving:
            await asyncio.wait(set(self._serving), timeout=seconds)

    async def _serve_one(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        import asyncio

        if self.connections >= MAX_CONNECTIONS:  # the client stores its mail itself
            writer.close()
            return
        self.connections += 1
        try:
            async with asyncio.timeout(READ_SECONDS):
                if await reader.readexactly(IDENTITY) != self.identity:
                    await _answer(writer, Receipt(other_store=True))
                    return
                size = LENGTH.unpack(await reader.readexactly(LENGTH.size))[0]
                await self.active.acquire()
            try:
                async with asyncio.timeout(READ_SECONDS):
                    data = await _read_capped(reader, size, self.cap)
                await _answer(writer, await _store(data, self.deliver, self.cap))
            finally:
                self.active.release()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            log.warning("pipe client dropped", extra={"fields": {"why": type(exc).__name__}})
        except Exception:  # loop guard: this client gets no receipt and stores the mail itself
            log.exception("pipe input failed")
        finally:
            self.connections -= 1
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _answer(writer: asyncio.StreamWriter, receipt: Receipt) -> None:
    body = msgspec.json.encode(receipt)
    writer.write(LENGTH.pack(len(body)) + body)
    await writer.drain()


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
            totals.add(await deliver(raw._replace(channel=Channel.STDIN)))
    except StoreUnavailable as exc:
        return Receipt(retry=str(exc))
    return Receipt(totals=totals)
