"""RFC 8460 §5.3: reports mailed to this host, by SMTP or LMTP (aiosmtpd).

Only the configured report addresses are accepted (others get 550). `250` is answered only
once the mail is committed; a mail that holds no report still gets 250 once it is kept in
quarantine, so senders do not retry it forever. When the store cannot take the mail the
answer is 451, a temporary failure, and the sender retries.

With `require_tls`, MAIL FROM before STARTTLS is refused with 530 5.7.0 (RFC 3207 §4). The
servers' own guards (idle timeout, sessions per address) are in smtp_server.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tlsscope.errors import StoreUnavailable
from tlsscope.receive.files import RawInput
from tlsscope.store import Saved
from tlsscope.vocab import Channel

Deliver = Callable[[RawInput], Awaitable[Saved]]
MUST_STARTTLS = "530 5.7.0 Must issue a STARTTLS command first"


class ReportHandler:
    """The aiosmtpd handler: `handle_RCPT` checks the address, `handle_DATA` stores."""

    def __init__(self, deliver: Deliver, addresses: Iterable[str],
                 channel: str = Channel.SMTP, require_tls: bool = False) -> None:
        self.deliver = deliver
        self.addresses = {a.strip().lower() for a in addresses}
        self.channel = channel  # Channel.SMTP or Channel.LMTP
        self.require_tls = require_tls

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        if self.require_tls and session.ssl is None:
            return MUST_STARTTLS
        envelope.mail_from = address  # what aiosmtpd does without this hook
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.addresses and address.lower() not in self.addresses:
            return "550 5.1.1 No such report address here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        sender = envelope.mail_from or "<>"
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        raw = RawInput(f"{self.channel}:{peer} from {sender}", bytes(data), None,
                       dt.datetime.now(dt.UTC), channel=self.channel, peer=peer)
        try:
            saved = await self.deliver(raw)
        except StoreUnavailable:
            return "451 4.3.0 Cannot store the report right now; please try again later"
        if saved.refused:  # accept_domains: a permanent refusal, with the reason
            reason = saved.reasons[0] if saved.reasons else "domain not accepted here"
            return "550 5.7.1 " + "".join(ch if " " <= ch < "\x7f" else "?"
                                          for ch in reason)[:400]
        return f"250 2.0.0 Stored ({saved.outcome.value})"

