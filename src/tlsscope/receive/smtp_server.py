"""The SMTP and LMTP servers of `tlsscope serve`: aiosmtpd's, with guards (the handler that
stores the mail is smtp.py's `ReportHandler`).

- An idle timeout (`timeout`, seconds): a session waiting that long for the client's next
  command, or in DATA for its next bytes, is closed. The wait for the writer's receipt after
  DATA is not idle time (the client waits for us; writer_answer_seconds bounds it).
- A cap on SMTP sessions per client address (`cap`, see address_cap.py): one too many is
  answered 421 4.7.0 and closed at once, before the greeting.
- A session lifetime (`lifetime`, seconds): a session open that long, however busy (a client
  that sends NOOP for ever), is answered 421 4.4.2 and closed; a mail being stored then is
  given until its receipt. The sender reconnects, and what it had not sent is sent again.

These hook aiosmtpd 1.4's `_reset_timeout`, `_timeout_handle` and `_call_handler_hook`;
tests/receive/test_smtp_server.py holds them to it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from tlsscope.receive.address_cap import AddressCap

log = logging.getLogger("tlsscope.smtp")
TOO_MANY = b"421 4.7.0 too many connections from your address\r\n"
TOO_LONG = b"421 4.4.2 this session has lasted too long; please reconnect\r\n"


class ReportSMTP(SMTP):
    """aiosmtpd's SMTP with an idle timeout that counts DATA's bytes as activity and not the
    wait for the writer, and a cap on sessions per client address (`cap`)."""

    def __init__(self, handler: Any, *, cap: AddressCap | None = None,
                 lifetime: float | None = None, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._cap = cap
        self._lifetime = lifetime
        self._ending: asyncio.TimerHandle | None = None
        self._counted = ""  # the host counted against the cap
        self._turned_away = False
        self._in_data = False
        self._storing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None and self._cap is not None:  # a new session, not STARTTLS
            peer = transport.get_extra_info("peername")
            host = str(peer[0]) if isinstance(peer, tuple) else ""
            if not self._cap.take(host):
                self._turned_away = True
                log.info("session refused", extra={"fields": {
                    "client": host, "why": "too many sessions from this address"}})
                cast(asyncio.WriteTransport, transport).write(TOO_MANY)  # uvloop's too
                transport.close()
                return
            self._counted = host
        if self.transport is None and self._lifetime is not None:
            self._ending = asyncio.get_running_loop().call_later(self._lifetime, self._end)
        super().connection_made(transport)

    def _end(self) -> None:
        """The session's lifetime is over: 421 and close, once a mail in hand is stored."""
        if self._storing:
            self._ending = asyncio.get_running_loop().call_later(1.0, self._end)
            return
        self._ending = None
        transport = self.transport
        if transport is not None and not transport.is_closing():
            log.info("session closed", extra={"fields": {
                "client": self._counted, "why": f"open for {self._lifetime:g} s"}})
            cast(asyncio.WriteTransport, transport).write(TOO_LONG)
            transport.close()

    def connection_lost(self, error: Exception | None) -> None:
        if self._turned_away:
            return
        if self._ending is not None:
            self._ending.cancel()
            self._ending = None
        if self._counted and self._cap is not None:
            self._cap.give(self._counted)
            self._counted = ""
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        return False if self._turned_away else super().eof_received()

    def data_received(self, data: bytes) -> None:
        if self._turned_away:
            return
        if self._in_data and not self._storing:
            self._reset_timeout()  # the mail is still coming: not idle
        super().data_received(data)

    async def smtp_DATA(self, arg: str) -> None:
        self._in_data = True
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data = False

    async def _call_handler_hook(self, command: str, *args: Any) -> Any:
        if command != "DATA":
            return await super()._call_handler_hook(command, *args)
        # Storing waits for the writer's receipt, itself bounded (writer_answer_seconds):
        # the sender is waiting for us then, not idle.
        self._storing = True
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
        try:
            return await super()._call_handler_hook(command, *args)
        finally:
            self._storing = False
            if self.transport is not None:
                self._reset_timeout()


class ReportLMTP(LMTP, ReportSMTP):
    """aiosmtpd's LMTP with the same idle timeout (no cap: its client is the local MTA)."""
