"""`tlsscope serve`: one process that owns every way in: HTTP(S), SMTP, LMTP, IMAP; and the
live re-checks of the domains it knows (check/schedule.py).

All receivers hand inputs to one writer process (group commits, on its own core), so every
acknowledgement (2xx, 250) means committed; an analyst process rebuilds roll-ups and
recomputes findings meanwhile (analyst.py). SIGTERM or SIGINT: stop accepting, let requests
in flight finish, store what was submitted, then exit.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import ssl
import threading
from pathlib import Path
from typing import Any

from tlsscope.analyst import AnalystProcess
from tlsscope.errors import ConfigError
from tlsscope.intake import WriterProcess
from tlsscope.receive.files import RawInput
from tlsscope.receive.smtp import ReportHandler
from tlsscope.settings import Settings
from tlsscope.store import Saved, Store

log = logging.getLogger("tlsscope.serve")


def host_port(value: str, key: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(key, value, "expected HOST:PORT")
    return host.strip("[]"), int(port)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("tls_cert", settings.tls_cert, f"cannot load: {exc}") from exc
    return context


async def serve(store: Store, settings: Settings) -> None:
    import uvicorn

    from tlsscope.web.app import create_app

    first_admin(store)
    url = store.engine.url.render_as_string(hide_password=False)
    intake = WriterProcess(url, settings, refresh=False)
    analyst = AnalystProcess(url, settings)

    async def deliver(raw: RawInput) -> Saved:
        saved = await asyncio.wrap_future(intake.submit(raw))
        log.info("input stored", extra={"fields": {
            "source": raw.source, "outcome": saved.outcome.value, "input": saved.digest,
            "reports_stored": saved.stored, "reports_seen_before": saved.repeated}})
        return saved

    host, port = host_port(settings.listen, "listen")
    context = tls_context(settings)
    config = uvicorn.Config(
        create_app(intake, settings, deliver, store), host=host, port=port, log_config=None,
        access_log=False, proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips,
        ssl_certfile=settings.tls_cert or None, ssl_keyfile=settings.tls_key or None,
        timeout_graceful_shutdown=30)
    mail_servers = await _mail_servers(settings, deliver, context)
    stop_mailbox = threading.Event()
    mailbox = _mailbox(settings, intake, stop_mailbox)
    rechecks = _rechecks(store, settings, stop_mailbox)
    server = uvicorn.Server(config)
    # uvicorn handles SIGTERM/SIGINT while it serves, then re-raises the signal to the handler
    # that was there before: make that one a no-op, so the shutdown below runs and exits 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    log.info("serving", extra={"fields": {"http": settings.listen, "smtp": settings.smtp_listen,
                                          "lmtp": settings.lmtp_listen}})
    # Everything loaded so far (the web app, templates, libraries) lives as long as the
    # process: keep it out of the garbage collector's full passes, whose pauses would
    # otherwise land on requests in flight.
    gc.freeze()
    try:
        await server.serve()
    finally:
        stop_mailbox.set()
        if mailbox is not None:
            await asyncio.to_thread(mailbox.join, 60)
        if rechecks is not None:  # a check in flight ends within its timeouts
            await asyncio.to_thread(rechecks.join, 10 * settings.check_timeout)
        for mail in mail_servers:
            mail.close()
        for mail in mail_servers:
            await mail.wait_closed()
        await asyncio.to_thread(intake.close)
        await asyncio.to_thread(analyst.close)
        log.info("stopped")


def first_admin(store: Store) -> None:
    """On the first run (no user yet), create an admin and say how to log in."""
    import os
    import secrets

    from tlsscope.store import accounts
    from tlsscope.web.tools import add_user

    if store.read(accounts.user_count):
        return
    email = os.environ.get("TLSSCOPE_ADMIN_EMAIL", "admin@localhost")
    password = os.environ.get("TLSSCOPE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    add_user(store, email, password, "admin", "")
    log.warning("first run: an admin was created; change its password with tlsscope users "
                "password", extra={"fields": {"email": email, "password": password}})


async def _mail_servers(settings: Settings, deliver: Any,
                        context: ssl.SSLContext | None) -> list[asyncio.Server]:
    from aiosmtpd.lmtp import LMTP
    from aiosmtpd.smtp import SMTP

    handler = ReportHandler(deliver, settings.rua_addresses)
    lmtp = ReportHandler(deliver, settings.rua_addresses, channel="lmtp")
    loop = asyncio.get_running_loop()
    servers = []
    limit = settings.smtp_max_message_bytes
    if settings.smtp_listen:
        host, port = host_port(settings.smtp_listen, "smtp_listen")
        servers.append(await loop.create_server(
            lambda: SMTP(handler, data_size_limit=limit, tls_context=context,
                         enable_SMTPUTF8=True, ident="tlsscope"), host, port))
    if settings.lmtp_listen:
        if settings.lmtp_listen.startswith("/"):
            servers.append(await loop.create_unix_server(
                lambda: LMTP(lmtp, data_size_limit=limit, ident="tlsscope"),
                settings.lmtp_listen))
        else:
            host, port = host_port(settings.lmtp_listen, "lmtp_listen")
            servers.append(await loop.create_server(
                lambda: LMTP(lmtp, data_size_limit=limit, ident="tlsscope"), host, port))
    return servers


def _rechecks(store: Store, settings: Settings,
              stop: threading.Event) -> threading.Thread | None:
    from tlsscope.check.schedule import Rechecker

    rechecker = Rechecker(store, settings)
    if not rechecker.enabled:
        return None
    thread = threading.Thread(target=rechecker.run, args=(stop,), name="tlsscope-recheck",
                              daemon=True)
    thread.start()
    return thread


def _mailbox(settings: Settings, intake: Any,
             stop: threading.Event) -> threading.Thread | None:
    if not settings.imap:
        return None
    from tlsscope.receive.imap import ImapUrl, MailboxQueue

    password = settings.imap_password
    if not password and settings.imap_password_file:
        try:
            password = Path(settings.imap_password_file).read_text().strip()
        except OSError as exc:
            raise ConfigError("imap_password_file", settings.imap_password_file,
                              f"cannot read: {exc.strerror}") from exc
    if not password:
        raise ConfigError("imap_password", "", "set TLSSCOPE_IMAP_PASSWORD or imap_password_file")
    queue = MailboxQueue(ImapUrl.parse(settings.imap), password,
                         lambda raw: intake.submit(raw).result(), archive=settings.imap_archive,
                         invalid=settings.imap_invalid, wait=settings.imap_wait)
    thread = threading.Thread(target=queue.run, args=(stop,), name="tlsscope-imap", daemon=True)
    thread.start()
    return thread
