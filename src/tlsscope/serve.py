"""`tlsscope serve`: one process that owns every way in: HTTP(S), SMTP, LMTP, IMAP; the
live re-checks of the domains it knows (app/recheck.py); alert delivery and the digests'
schedule (tlsscope.alert), each in a thread of its own.

All receivers hand inputs to one writer process (group commits, on its own core), so every
acknowledgement (2xx, 250) means committed; an analyst process rebuilds roll-ups and
recomputes findings meanwhile (analyst.py). Both are supervised (children.py): one that dies
is logged and started again, and meanwhile the receivers make senders retry. SIGTERM or
SIGINT, to this process or its whole group: stop accepting, let requests in flight finish,
store what was submitted, then exit, within SHUTDOWN_SECONDS; a second signal stops at once.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import os
import shutil
import signal
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from tlsscope import counters
from tlsscope.analyst import AnalystProcess
from tlsscope.app.lease import Lease
from tlsscope.children import Supervisor
from tlsscope.errors import ConfigError, StoreUnavailable
from tlsscope.intake import WriterProcess
from tlsscope.receive.files import RawInput
from tlsscope.receive.smtp import ReportHandler
from tlsscope.settings import Settings
from tlsscope.store import Saved, Store
from tlsscope.vocab import Channel

if TYPE_CHECKING:
    from concurrent.futures import Future

    import uvicorn

    from tlsscope.receive.pipe import PipeServer

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


SHUTDOWN_SECONDS = 8.0  # from the first signal to the exit (systemd waits 90 s; we say 10)
HTTP_GRACE_SECONDS = 3  # of those, for the HTTP requests in flight


async def serve(store: Store, settings: Settings) -> None:
    from tlsscope import alert
    from tlsscope.web.app import create_app
    from tlsscope.web.health import Health
    from tlsscope.web.metrics import Scrape

    alert.wire()  # the web's live checks and the re-checker's tell the alert rules
    first_admin(store)
    url = store.engine.url.render_as_string(hide_password=False)
    host, port = host_port(settings.listen, "listen")
    context = tls_context(settings)
    stopping = _Stopping()
    for signum in (signal.SIGTERM, signal.SIGINT):  # uvicorn puts these back when it is done
        signal.signal(signum, stopping)
    metrics_socket = _metrics_socket(settings, port)
    metrics_folder = _metrics_folder()
    counters.enable(metrics_folder)  # before the children start: they inherit the folder
    _prime_counters()
    intake = WriterProcess(url, settings, refresh=False)
    jobs = set(settings.jobs)  # on a fleet, each is done by one node at a time (docs/deploy.md)
    analyst = AnalystProcess(url, settings) if "analyst" in jobs else None
    stopping.children = [intake] + ([analyst] if analyst else [])
    supervisor = Supervisor(stopping.children)
    supervisor.start()

    budget = settings.writer_answer_seconds  # a committed input answered late: a duplicate

    async def deliver(raw: RawInput) -> Saved:
        # waited for with asyncio.wait, which never cancels it: giving up waiting (a client
        # gone, a timeout) leaves the writer's answer to come, and be dropped (the sender's
        # retry is then a duplicate)
        answer = asyncio.wrap_future(intake.submit(raw))
        answer.add_done_callback(_retrieved)  # a late failure is not "never retrieved"
        deadline = time.monotonic() + budget
        while True:
            left = deadline - time.monotonic()
            if stopping.since is not None:  # answer before uvicorn's grace cancels us
                left = min(left, HTTP_GRACE_SECONDS - 0.5 - stopping.elapsed())
            if left <= 0:
                why = ("tlsscope is stopping" if stopping.since is not None
                       else f"the writer did not answer within {budget:g} s")
                log.error("writer did not answer", extra={"fields": {
                    "source": raw.source, "why": why}})
                raise StoreUnavailable(why)
            done, _ = await asyncio.wait((answer,), timeout=min(left, 0.25))
            if done:
                saved = answer.result()
                break
        log.info("input stored", extra={"fields": {
            "source": raw.source, "outcome": saved.outcome.value, "input": saved.digest,
            "reports_stored": saved.stored, "reports_seen_before": saved.repeated}})
        return saved

    mail_servers: list[asyncio.Server] = []
    pipes: list[PipeServer] = []
    threads: list[threading.Thread] = []
    stop_threads = threading.Event()
    try:
        health = Health({"writer": intake.trouble,
                         **({"analyst": analyst.trouble} if analyst else {})}, store,
                        ready={"queue": intake.queue_trouble})
        scrape = Scrape(store, settings, intake.queue_depth)
        app = create_app(intake, settings, deliver, store, health=health, scrape=scrape,
                         metrics_port=metrics_socket.getsockname()[1] if metrics_socket else None)
        server = _uvicorn(app, host, port, settings, stopping, metrics_socket)
        sockets = None if metrics_socket is None else [server.config.bind_socket(),
                                                       metrics_socket]
        mail_servers = await _mail_servers(settings, deliver, context)
        pipes = await _pipe(settings, url, deliver)
        mail_servers += [pipe.server for pipe in pipes if pipe.server is not None]
        starts: dict[str, Callable[[], threading.Thread | None]] = {
            "imap": lambda: _mailbox(settings, intake, stop_threads, store),
            "rechecks": lambda: _rechecks(store, settings, stop_threads),
            "alerts": lambda: _alerts(store, settings, stop_threads),
            "digests": lambda: _digests(store, settings, stop_threads),
            "retention": lambda: _retention(store, settings, stop_threads)}
        threads = [thread for job, start in starts.items()
                   if job in jobs and (thread := start()) is not None]
        log.info("serving", extra={"fields": {
            "http": settings.listen, "smtp": settings.smtp_listen,
            "lmtp": settings.lmtp_listen, "metrics": settings.metrics_listen}})
        # Everything loaded so far (the web app, templates, libraries) lives as long as the
        # process: keep it out of the garbage collector's full passes, whose pauses would
        # otherwise land on requests in flight.
        gc.freeze()
        await server.serve(sockets)
    finally:
        stopping.begin()
        supervisor.stop()
        stop_threads.set()
        await _stop_receivers(stopping, mail_servers, threads)
        for pipe in pipes:
            pipe.remove()
        # The writer stores what it was handed; the analyst ends the domain in hand.
        seconds = max(2.0, stopping.left())
        await asyncio.gather(asyncio.to_thread(intake.close, seconds),
                             *([asyncio.to_thread(analyst.close, min(seconds, 3.0))]
                               if analyst else []))
        if metrics_socket is not None:
            metrics_socket.close()
        counters.disable()
        shutil.rmtree(metrics_folder, ignore_errors=True)
        log.info("stopped", extra={"fields": {"seconds": round(stopping.elapsed(), 1)}})


class _Stopping:
    """SIGTERM and SIGINT, sent to this process alone or to its whole group: the first stops
    it within SHUTDOWN_SECONDS (no new connections, requests in flight answered, what was
    handed to the writer stored); a second stops it at once. The children ignore both: the
    shutdown tells them when to stop."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.children: list[WriterProcess | AnalystProcess] = []
        self._server: uvicorn.Server | None = None

    def attach(self, server: uvicorn.Server) -> uvicorn.Server:
        self._server = server
        server.should_exit = self.since is not None
        return server

    def begin(self) -> None:
        if self.since is None:
            self.since = time.monotonic()

    def elapsed(self) -> float:
        return 0.0 if self.since is None else time.monotonic() - self.since

    def left(self, most: float = SHUTDOWN_SECONDS) -> float:
        """Seconds left of the shutdown's time, at most `most`."""
        return max(0.0, min(most, SHUTDOWN_SECONDS - self.elapsed()))

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.since is None:
            self.begin()
            log.info("stopping", extra={"fields": {"signal": name,
                                                   "within_seconds": SHUTDOWN_SECONDS}})
            if self._server is not None:
                self._server.should_exit = True
            return
        # What was acknowledged is committed; the writer's open transaction is rolled back.
        log.warning("second signal: stopping at once", extra={"fields": {"signal": name}})
        for child in self.children:
            child.process.kill()
        os._exit(128 + signum)


def _uvicorn(app: Any, host: str, port: int, settings: Settings, stopping: _Stopping,
             metrics_socket: socket.socket | None = None) -> uvicorn.Server:
    import uvicorn

    from tlsscope.receive import http_front as front

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stopping(sig, frame)  # uvicorn's own would ignore a second SIGTERM

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            """uvicorn's, with a budget for the TLS handshake: the loop's default waits 60 s,
            and the header timeout and the per-address cap start only once it is done (the
            HTTP protocol sees a connection after its handshake)."""
            loop: Any = asyncio.get_running_loop()
            create_server = loop.create_server

            async def with_handshake_budget(*args: Any, **kwargs: Any) -> asyncio.Server:
                if metrics_socket is not None and kwargs.get("sock") is metrics_socket:
                    kwargs["ssl"] = None  # metrics_listen: plain HTTP, for Prometheus
                if kwargs.get("ssl") is not None:
                    kwargs["ssl_handshake_timeout"] = settings.http_header_timeout
                server: asyncio.Server = await create_server(*args, **kwargs)
                return server

            try:
                loop.create_server = with_handshake_budget
            except AttributeError:  # a loop whose methods cannot be replaced: its 60 s
                log.warning("the TLS handshake has the event loop's own budget (60 s)")
                await super().startup(sockets)
                return
            try:
                await super().startup(sockets)
            finally:
                del loop.create_server  # the loop's own again

    config = uvicorn.Config(
        front.QuietDisconnects(app), host=host, port=port, log_config=None, access_log=False,
        proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips,
        ssl_certfile=settings.tls_cert or None, ssl_keyfile=settings.tls_key or None,
        timeout_graceful_shutdown=HTTP_GRACE_SECONDS,
        http=front.front_protocol(front.HttpLimits.from_settings(settings),
                                  front.address_cap(settings)),
        limit_concurrency=settings.http_max_connections)
    return stopping.attach(Server(config))


METRICS_PREFIX = "tlsscope-metrics-"


def _metrics_folder() -> str:
    """A folder of this serve's own for its processes' counters, named with its pid; those
    of a serve that no longer runs (killed with -9: it could not remove its own) go."""
    parent = Path(tempfile.gettempdir())
    for old in parent.glob(f"{METRICS_PREFIX}*-*"):
        pid = old.name[len(METRICS_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)) and old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def _prime_counters() -> None:
    from tlsscope.alert.rules import CHANNELS
    from tlsscope.live_check import CheckStatus
    from tlsscope.receipts import Outcome

    counters.prime([c.value for c in Channel], [o.value for o in Outcome] + [counters.RETRY],
                   CHANNELS, [s.value for s in CheckStatus])


def _metrics_socket(settings: Settings, main_port: int) -> socket.socket | None:
    """The metrics listener's socket (metrics_listen), bound now: its port tells its requests
    from the main listener's (web/metrics.py)."""
    if not settings.metrics_listen:
        return None
    host, port = host_port(settings.metrics_listen, "metrics_listen")
    if port == main_port:
        raise ConfigError("metrics_listen", settings.metrics_listen,
                          "must not be the port of listen")
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host
                                    else socket.AF_INET)
    except OSError as exc:
        raise ConfigError("metrics_listen", settings.metrics_listen,
                          f"cannot listen: {exc.strerror or exc}") from None


async def _stop_receivers(stopping: _Stopping, mail_servers: list[asyncio.Server],
                          threads: list[threading.Thread]) -> None:
    """No new mail; the mailbox finishes the message in hand, a re-check in flight ends
    within its timeouts (both are daemon threads: past their time, they end with the
    process, and what they had not stored is read again or re-checked next time)."""
    for mail in mail_servers:
        mail.close()
    deadline = time.monotonic() + stopping.left(1.5)
    for thread in threads:
        await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.warning("stopping overran; left to end with the process",
                        extra={"fields": {"thread": thread.name}})
    for mail in mail_servers:
        try:
            await asyncio.wait_for(mail.wait_closed(), stopping.left(0.5))
        except TimeoutError:
            log.warning("stopping overran; mail sessions left open")


def first_admin(store: Store) -> None:
    """On the first run (no user yet), create an admin and say how to log in."""
    import secrets

    from tlsscope.app import accounts
    from tlsscope.errors import Invalid

    email = os.environ.get("TLSSCOPE_ADMIN_EMAIL", "admin@localhost")
    supplied = os.environ.get("TLSSCOPE_ADMIN_PASSWORD", "")
    password = supplied or secrets.token_urlsafe(12)
    try:
        if not accounts.first_admin(store, email, password):
            return
    except Invalid as exc:  # a password or address the account rules refuse
        raise ConfigError("TLSSCOPE_ADMIN_EMAIL/PASSWORD", email, exc.message) from None
    # The operator's own password is never logged; a generated one is shown this once.
    fields = {"email": email, "password": "(TLSSCOPE_ADMIN_PASSWORD)" if supplied else password}
    log.warning("first run: an admin was created; change its password with tlsscope users "
                "password", extra={"fields": fields})


async def _mail_servers(settings: Settings, deliver: Any,
                        context: ssl.SSLContext | None) -> list[asyncio.Server]:
    from tlsscope.receive.address_cap import AddressCap
    from tlsscope.receive.smtp_server import ReportLMTP, ReportSMTP

    if settings.smtp_require_starttls and settings.smtp_listen and context is None:
        raise ConfigError("smtp_require_starttls", True,
                          "STARTTLS needs a certificate: set tls_cert (and tls_key)")
    handler = ReportHandler(deliver, settings.rua_addresses,
                            require_tls=settings.smtp_require_starttls)
    lmtp = ReportHandler(deliver, settings.rua_addresses, channel=Channel.LMTP)
    loop = asyncio.get_running_loop()
    servers = []
    limit, idle = settings.smtp_max_message_bytes, settings.smtp_idle_seconds
    if settings.smtp_listen:
        host, port = host_port(settings.smtp_listen, "smtp_listen")
        cap = AddressCap(settings.smtp_max_sessions_per_address)
        servers.append(await loop.create_server(
            lambda: ReportSMTP(handler, cap=cap, lifetime=settings.smtp_session_seconds,
                               data_size_limit=limit, tls_context=context,
                               enable_SMTPUTF8=True, ident="tlsscope", timeout=idle),
            host, port))
    if settings.lmtp_listen:
        def factory() -> ReportLMTP:
            return ReportLMTP(lmtp, data_size_limit=limit, ident="tlsscope", timeout=idle)

        if settings.lmtp_listen.startswith("/"):
            servers.append(await loop.create_unix_server(factory, settings.lmtp_listen))
        else:
            host, port = host_port(settings.lmtp_listen, "lmtp_listen")
            servers.append(await loop.create_server(factory, host, port))
    return servers


async def _pipe(settings: Settings, url: str, deliver: Any) -> list[PipeServer]:
    """The fast pipe for `ingest -` (receive/pipe.py), where `pipe_socket` puts it. Put there
    by "auto", a socket that cannot be made (a path too long for AF_UNIX, a read-only
    folder) is only warned about: the MTA's pipe then stores its mail itself."""
    from tlsscope.receive.pipe import PipeServer, socket_path

    path = socket_path(settings.pipe_socket, url)
    if path is None:
        return []
    server = PipeServer(path, deliver, settings.max_input_bytes, url)
    try:
        await server.start()
    except OSError as exc:
        if settings.pipe_socket != "auto":
            raise ConfigError("pipe_socket", path, f"cannot listen: {exc.strerror or exc}"
                              ) from None
        log.warning("no pipe socket", extra={"fields": {"path": path,
                                                        "why": exc.strerror or str(exc)}})
        return []
    log.info("pipe socket", extra={"fields": {"path": path}})
    return [server]


def _rechecks(store: Store, settings: Settings,
              stop: threading.Event) -> threading.Thread | None:
    from tlsscope.app.recheck import Rechecker

    rechecker = Rechecker(store, settings)
    if not rechecker.enabled:
        return None
    thread = threading.Thread(target=rechecker.run, args=(stop,), name="tlsscope-recheck",
                              daemon=True)
    thread.start()
    return thread


def _alerts(store: Store, settings: Settings, stop: threading.Event) -> threading.Thread:
    """Alert delivery and the silent-domain scan (tlsscope.alert.deliver.Sender)."""
    from tlsscope.alert.deliver import Sender

    sender = Sender(store, settings)
    thread = threading.Thread(target=sender.run, args=(stop,), name="tlsscope-alerts",
                              daemon=True)
    thread.start()
    return thread


def _retention(store: Store, settings: Settings, stop: threading.Event) -> threading.Thread:
    """The daily purge of what is past its organisation's limits (app/retention.py), on one
    node of a fleet at a time."""
    from tlsscope.app.retention import Purger

    thread = threading.Thread(target=Purger(store, settings).run, args=(stop,),
                              name="tlsscope-retention", daemon=True)
    thread.start()
    return thread


DIGEST_POLL_SECONDS = 60.0


def _digests(store: Store, settings: Settings, stop: threading.Event) -> threading.Thread:
    """The digests' schedule, in a thread of its own: building one for thousands of domains
    takes a while, and must not hold up the alerts."""
    from tlsscope.alert import digest

    def run() -> None:
        while not stop.wait(DIGEST_POLL_SECONDS):
            try:
                digest.scheduled(store, settings)
            except Exception:  # loop guard: a lost database must not stop the digests
                log.exception("digest pass failed")

    thread = threading.Thread(target=run, name="tlsscope-digests", daemon=True)
    thread.start()
    return thread


def _mailbox(settings: Settings, intake: Any, stop: threading.Event,
             store: Store) -> threading.Thread | None:
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
    budget = settings.writer_answer_seconds
    url = ImapUrl.parse(settings.imap)
    # One node of a fleet drains a mailbox at a time; it waits (IDLE) no longer than a third
    # of its lease, which it renews between waits and messages.
    lease = Lease(store, "imap:" + hashlib.sha256(url.shown.encode()).hexdigest()[:32],
                  settings.lease_seconds)
    counters.mailbox_polled(url.shown)  # watched from now: a series from the start
    queue = MailboxQueue(url, password, lambda raw: _answer(intake.submit(raw), budget),
                         archive=settings.imap_archive, invalid=settings.imap_invalid,
                         wait=min(settings.imap_wait, settings.lease_seconds / 3),
                         on_health=_mailbox_health(store, settings), turn=lease)
    thread = threading.Thread(target=queue.run, args=(stop,), name="tlsscope-imap", daemon=True)
    thread.start()
    return thread


MAILBOX_DOWN_SECONDS = 1800.0  # unreachable this long: receiver.silent (once per outage)


def _mailbox_health(store: Store, settings: Settings) -> Any:
    """The mailbox's health, told to the installation's alert rules once it has been
    unreachable for MAILBOX_DOWN_SECONDS."""
    from tlsscope.alert import outbox
    from tlsscope.receive.imap import ImapUrl

    what = ImapUrl.parse(settings.imap).shown
    state: dict[str, Any] = {"since": None, "told": False}

    def health(error: str | None) -> None:
        if error is None:
            state.update(since=None, told=False)
            return
        now = time.time()
        if state["since"] is None:
            state["since"] = now
        if not state["told"] and now - state["since"] >= MAILBOX_DOWN_SECONDS:
            import datetime as dt

            try:
                outbox.receiver_down(store, what, dt.datetime.fromtimestamp(
                    state["since"], dt.UTC), error)
                state["told"] = True
            except Exception:  # loop guard: the mailbox thread must go on; tried again
                log.exception("cannot write the mailbox's alert")

    return health


def _answer(future: Future[Saved], seconds: float) -> Saved:
    """The writer's receipt for the IMAP thread, within the same time budget."""
    try:
        return future.result(seconds)
    except TimeoutError:
        raise StoreUnavailable(f"the writer did not answer within {seconds:g} s") from None


def _retrieved(future: asyncio.Future[Saved]) -> None:
    if not future.cancelled():
        future.exception()
