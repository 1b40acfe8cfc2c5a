"""A real SMTP server on loopback (aiosmtpd's Controller) that keeps every mail it is given,
parsed, for the alert and digest tests; with a certificate it offers STARTTLS."""

from __future__ import annotations

import email
import email.policy
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.webserver import free_port


class Sink:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(([str(r) for r in envelope.rcpt_tos], parsed))
        return "250 OK"


@contextmanager
def mail_sink(tls: ssl.SSLContext | None = None) -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    kwargs: dict[str, Any] = {"tls_context": tls, "require_starttls": True} if tls else {}
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and the HTML part."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())
