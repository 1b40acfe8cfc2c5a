"""A mailbox as a queue (imap-tools): INBOX → Archive, or → Invalid, only after the commit.

Each message is fetched without marking it seen, handed over, and moved only once its input
is committed: to `Archive` when it held a report (new or already stored), to `Invalid` when
it held none or was rejected (the reason is recorded with the stored input). A crash between
the commit and the move leaves the message in the mailbox; read again after a restart, it is
recognised by its sha256 and counts nothing twice. Disconnects and server restarts are met
with reconnection and exponential backoff. IDLE is used when the server offers it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol
from urllib.parse import unquote, urlsplit

from tlsscope import counters
from tlsscope.errors import ConfigError, StoreUnavailable
from tlsscope.parse.results import Outcome
from tlsscope.receive.files import RawInput
from tlsscope.store import Saved
from tlsscope.vocab import Channel

log = logging.getLogger("tlsscope.imap")
Deliver = Callable[[RawInput], Saved]  # blocking: returns once the input is committed
IO_SECONDS = 60.0  # a connect or a read that waits longer means the server is gone


class ImapUrl(NamedTuple):
    """`imaps://USER@HOST:PORT/MAILBOX` (TLS), `imap://` (STARTTLS), `imap+plain://` (none)."""

    scheme: str
    user: str
    host: str
    port: int
    mailbox: str

    @classmethod
    def parse(cls, text: str) -> ImapUrl:
        parts = urlsplit(text)
        defaults = {"imaps": 993, "imap": 143, "imap+plain": 143}
        if parts.scheme not in defaults or not parts.hostname or not parts.username:
            raise ConfigError("imap", text, "expected imaps://USER@HOST[:PORT]/MAILBOX "
                              "(or imap:// for STARTTLS, imap+plain:// for none)")
        if parts.password:
            raise ConfigError("imap", "(hidden)", "put the password in TLSSCOPE_IMAP_PASSWORD "
                              "or a file (imap_password_file), never in the URL")
        return cls(parts.scheme, unquote(parts.username), parts.hostname,
                   parts.port or defaults[parts.scheme], unquote(parts.path.lstrip("/")) or "INBOX")

    @property
    def shown(self) -> str:
        """The mailbox as said in logs and alerts (it holds no password)."""
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}/{self.mailbox}"


class Turn(Protocol):
    """Whose turn it is to drain the mailbox, on a fleet (tlsscope.app.lease.Lease)."""

    def held(self) -> bool: ...

    def release(self) -> None: ...


class _Always:
    def held(self) -> bool:
        return True

    def release(self) -> None:
        return None


class MailboxQueue:
    def __init__(self, url: ImapUrl, password: str, deliver: Deliver, *,
                 archive: str = "Archive", invalid: str = "Invalid", wait: float = 60.0,
                 ssl_context: Any = None,
                 on_health: Callable[[str | None], None] | None = None,
                 turn: Turn | None = None) -> None:
        """`on_health`: told None after each connection, and the error after each failed
        one (serve's alert on a mailbox that stays unreachable). `turn`: asked before each
        connection, wait and message; while another node holds it, this one stays off the
        mailbox (so a fleet drains it once)."""
        self.url, self.password, self.deliver = url, password, deliver
        self.archive, self.invalid, self.wait = archive, invalid, wait
        self.ssl_context = ssl_context
        self.on_health = on_health or (lambda error: None)
        self.turn = turn or _Always()

    def _connect(self) -> Any:
        from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

        box: Any
        if self.url.scheme == "imaps":
            box = MailBox(self.url.host, self.url.port, timeout=IO_SECONDS,
                          ssl_context=self.ssl_context)
        elif self.url.scheme == "imap":
            box = MailBoxStartTls(self.url.host, self.url.port, timeout=IO_SECONDS,
                                  ssl_context=self.ssl_context)
        else:
            box = MailBoxUnencrypted(self.url.host, self.url.port, timeout=IO_SECONDS)
        try:
            box.login(self.url.user, self.password, initial_folder=self.url.mailbox)
            # imaplib keeps the pre-login CAPABILITY list; MOVE and UIDPLUS come after login
            _, data = box.client.capability()
            box.client.capabilities = tuple(data[-1].decode().upper().split())
            for folder in (self.archive, self.invalid):
                if not box.folder.exists(folder):
                    box.folder.create(folder)
        except BaseException:
            _close(box)
            raise
        return box

    def drain(self, box: Any) -> int:
        """Hand over every message now in the mailbox; returns how many were moved."""
        moved = 0
        for uid in box.uids():
            if not self.turn.held():  # another node took the mailbox over: it drains the rest
                break
            data = _raw_bytes(box, uid)
            if data is None:  # expunged meanwhile by another client
                continue
            where = f"{self.url.user}@{self.url.host}/{self.url.mailbox}#{uid}"
            raw = RawInput(f"{Channel.IMAP}:{where}", data, None, dt.datetime.now(dt.UTC),
                           channel=Channel.IMAP)
            saved = self.deliver(raw)  # raises StoreUnavailable: the message stays, retried
            good = saved.outcome in (Outcome.ACCEPTED, Outcome.DUPLICATE)
            target = self.archive if good else self.invalid
            box.move(uid, target)
            log.info("mail handled", extra={"fields": {
                "uid": uid, "outcome": saved.outcome.value, "input": saved.digest,
                "moved_to": target}})
            moved += 1
        return moved

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: drain, then wait (IDLE, or a poll interval); reconnect on
        failure with exponential backoff (1 s doubling up to 5 minutes)."""
        backoff = 1.0
        while not stop.is_set():
            if not self.turn.held():  # another node drains it
                if stop.wait(self.wait):
                    break
                continue
            try:
                box = self._connect()
                backoff = 1.0
                self.on_health(None)
                try:
                    while not stop.is_set() and self.turn.held():
                        self.drain(box)
                        counters.mailbox_polled(self.url.shown)
                        self._wait(box, stop)
                finally:
                    try:
                        box.logout()
                    except Exception:  # the connection is gone already; nothing to undo
                        log.debug("logout failed", exc_info=True)
                    _close(box)
            except StoreUnavailable as exc:
                log.warning("store unavailable; mail left in place",
                            extra={"fields": {"error": str(exc)}})
            except Exception as exc:  # loop guard: any IMAP/network failure → reconnect
                log.warning("IMAP connection failed", extra={"fields": {
                    "error": f"{type(exc).__name__}: {exc}", "retry_in": backoff}})
                self.on_health(f"{type(exc).__name__}: {exc}"[:300])
            if stop.wait(backoff):
                break
            backoff = min(backoff * 2, 300.0)
        self.turn.release()

    def _wait(self, box: Any, stop: threading.Event) -> None:
        if "IDLE" in box.client.capabilities:
            box.idle.wait(timeout=min(self.wait, 29 * 60))  # RFC 2177: renew before 30 min
        else:
            stop.wait(self.wait)


def _close(box: Any) -> None:
    """Close the socket whatever state the session is in: a logout that failed (the server
    went away) leaves it open, to be closed later by the garbage collector with a warning."""
    try:
        box.client.shutdown()
    except Exception:  # already closed, or half-built: nothing more to release
        log.debug("closing the IMAP socket failed", exc_info=True)


def _raw_bytes(box: Any, uid: str) -> bytes | None:
    """The message exactly as stored on the server (BODY.PEEK[] leaves it unseen)."""
    status, data = box.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return None
    for part in data:
        if isinstance(part, tuple) and len(part) > 1 and isinstance(part[1], bytes):
            return part[1]
    return None
