"""The ways out of an alert: webhooks (POSTed over httpx) and mail (through the SMTP relay
of `smtp_url`), each connection made by the one connector's rule (probe/outbound.py): the
name resolved once, the address checked, the connection made to that address with the name
as Host and SNI. A webhook's redirect is never followed (a 3xx is a failed attempt that
names where it pointed), so it cannot lead to an address the rule refuses.

An attempt's result is `Sent`: delivered, or why not, and whether trying again can help
(a 4xx other than 408, 425 and 429 cannot: the URL is gone or refuses what we send; nor
can a 3xx: the URL is not the webhook's own).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import http.client
import smtplib
import socket
import ssl
import threading
import time
from email.message import EmailMessage
from typing import NamedTuple
from urllib.parse import urlsplit

from tlsscope import __version__
from tlsscope.errors import Invalid
from tlsscope.probe import connect, outbound
from tlsscope.settings import Settings, SmtpRelay

RETRYABLE_4XX = (408, 425, 429)
USER_AGENT = f"tlsscope/{__version__} (alerts)"


class Sent(NamedTuple):
    delivered: bool
    status: int | None
    error: str
    retry: bool  # False: trying again cannot help
    seconds: float


def signature(secret: str, body: bytes, at: int) -> str:
    """`X-Tlsscope-Signature`: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def vet(url: str, settings: Settings) -> list[str]:
    """At a rule's creation: refuse a webhook whose host is (or resolves to) an address the
    rule refuses; a name that does not resolve now is only warned about."""
    host = urlsplit(url).hostname or ""
    try:
        outbound.checked(host, settings.dns_nameserver, min(settings.alerts_timeout, 5.0),
                         settings.alerts_allow_private)
    except connect.Refused as exc:
        raise Invalid("webhook", f"webhook: {exc}") from None
    except outbound.Unreachable as exc:
        return [f"{exc}: it is tried again at each delivery"]
    return []


def vet_mail(settings: Settings) -> list[str]:
    """At a mail rule's creation: warn when mail cannot be sent yet."""
    if not settings.smtp_url:
        return ["smtp_url is not set: mail alerts are retried for about 10 hours (7 "
                "attempts), then fail; set it before then"]
    SmtpRelay.parse(settings.smtp_url)  # a ConfigError names what is wrong
    return []


def _context(settings: Settings) -> ssl.SSLContext:
    return _made_context(settings.check_ca_file)


@functools.lru_cache(maxsize=4)
def _made_context(ca_file: str) -> ssl.SSLContext:
    """Made once per process (loading the system's CAs takes ~50 ms): verifying, with the
    extra CA file of check_ca_file if any."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if ca_file:
        context.load_default_certs()
    return context


MAX_ANSWER_BYTES = 64 * 1024  # of a webhook's answer body read (the rest is not waited for)
WATCH_SECONDS = 0.25  # how often the attempts' deadlines are looked at


class _Http(http.client.HTTPConnection):
    """http.client's connection, to the address checked beforehand (it never resolves)."""

    def __init__(self, address: str, port: int, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _tcp(self._address, self.port, self.timeout)


class _Https(http.client.HTTPSConnection):
    """The same over TLS, the certificate verified for the webhook's name (SNI)."""

    def __init__(self, address: str, port: int, timeout: float, name: str,
                 context: ssl.SSLContext) -> None:
        super().__init__(address, port, timeout=timeout, context=context)
        self._address, self._name, self._tls = address, name, context

    def connect(self) -> None:
        plain = _tcp(self._address, self.port, self.timeout)
        self.sock = self._tls.wrap_socket(plain, server_hostname=self._name)


def _tcp(address: str, port: int, timeout: float | None) -> socket.socket:
    """A connection to the address Webhooks._address checked, without Nagle's delay (as
    http.client's own connect does: else a request's last segment waits for the receiver's
    delayed ACK, 40 ms)."""
    sock = connect.tcp(address, port, timeout or 10.0, allow_private=True)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Webhooks:
    """POSTs for one delivery pass, from several threads: each thread keeps its connection to
    a receiver alive, and each host's checked address is resolved once. http.client, not
    httpx: a delivery costs a quarter of the CPU time (2,000+ POSTs/s on one core), and a
    webhook's needs are one POST, no redirect, a bounded answer."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._addresses: dict[str, str | Exception] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        # The attempts under way: connection → its deadline; the watchdog shuts what overruns.
        self._deadlines: dict[int, tuple[float, http.client.HTTPConnection]] = {}
        self._cut: set[int] = set()
        self._closed = threading.Event()
        threading.Thread(target=self._watchdog, name="tlsscope-alert-watchdog",
                         daemon=True).start()

    def _watchdog(self) -> None:
        while not self._closed.wait(WATCH_SECONDS):
            now = time.monotonic()
            with self._lock:
                overdue = [(key, each) for key, (deadline, each) in self._deadlines.items()
                           if deadline < now]
                self._cut.update(key for key, _ in overdue)
            for _, each in overdue:
                _cut(each)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            for each in self._all:
                each.close()
            self._all.clear()

    def _address(self, host: str) -> str:
        with self._lock:  # one lookup per host and pass, whatever the threads
            if host not in self._addresses:
                s = self.settings
                try:
                    self._addresses[host] = outbound.checked(
                        host, s.dns_nameserver, min(s.alerts_timeout, 5.0),
                        s.alerts_allow_private)
                except (connect.Refused, outbound.Unreachable) as exc:
                    self._addresses[host] = exc
            found = self._addresses[host]
        if isinstance(found, Exception):
            raise found
        return found

    def _connection(self, scheme: str, address: str, port: int,
                    host: str) -> http.client.HTTPConnection:
        mine: dict[tuple[str, str, int, str], http.client.HTTPConnection] = getattr(
            self._local, "connections", None) or {}
        self._local.connections = mine
        slot = (scheme, address, port, host)
        if slot not in mine:
            timeout = self.settings.alerts_timeout
            mine[slot] = (_Https(address, port, timeout, host, _context(self.settings))
                          if scheme == "https" else _Http(address, port, timeout))
            with self._lock:
                self._all.append(mine[slot])
        return mine[slot]

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Sent:
        started = time.perf_counter()

        def took() -> float:
            return time.perf_counter() - started

        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            address = self._address(host)
        except connect.Refused as exc:
            return Sent(False, None, f"refused: {exc}", True, took())
        except outbound.Unreachable as exc:
            return Sent(False, None, str(exc), True, took())
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = port == (443 if parts.scheme == "https" else 80)
        sent_headers = {"Host": host if default_port else f"{host}:{port}",
                        "User-Agent": USER_AGENT, "Content-Type": "application/json",
                        **headers}
        connection = self._connection(parts.scheme, address, port, host)
        # The whole attempt has alerts_timeout, however slowly the receiver trickles bytes.
        with self._lock:
            self._deadlines[id(connection)] = (time.monotonic() + self.settings.alerts_timeout,
                                               connection)
        try:
            try:
                reused = connection.sock is not None
                connection.request("POST", path, body=body, headers=sent_headers)
                answer = connection.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                # The receiver had closed the kept-alive connection: once more, anew (the
                # same alert id: a receiver that had it after all dedupes on it).
                connection.close()
                connection.request("POST", path, body=body, headers=sent_headers)
                answer = connection.getresponse()
            text = answer.read(MAX_ANSWER_BYTES)
            if not answer.isclosed():
                connection.close()  # an answer longer than we read: not kept alive
        except (http.client.HTTPException, OSError, ssl.SSLError) as exc:
            connection.close()
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            with self._lock:
                overran = id(connection) in self._cut
            if overran:
                why = f"no answer within {self.settings.alerts_timeout:g} s ({why})"
            return Sent(False, None, why[:500], True, took())
        finally:
            with self._lock:
                self._deadlines.pop(id(connection), None)
                self._cut.discard(id(connection))
        status = answer.status
        if 200 <= status < 300:
            return Sent(True, status, "", False, took())
        if 300 <= status < 400:
            where = (answer.getheader("location") or "")[:300]
            return Sent(False, status, f"HTTP {status}: a redirect (to {where!r}) is not "
                        "followed; give the webhook's final URL", False, took())
        shown = text[:200].decode("utf-8", "replace").replace("\n", " ")
        retry = status >= 500 or status in RETRYABLE_4XX
        return Sent(False, status, f"HTTP {status}: {shown}", retry, took())


def _cut(connection: http.client.HTTPConnection) -> None:
    """Past the attempt's time: shut its socket, so that a blocked read returns."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def mail_from(settings: Settings) -> str:
    if settings.mail_from:
        return settings.mail_from
    host = urlsplit(settings.public_url).hostname if settings.public_url else None
    return f"tlsscope@{host or socket.getfqdn() or 'localhost'}"


class _Connected(smtplib.SMTP):
    """smtplib's client, connected to the address checked beforehand (it never resolves)."""

    def __init__(self, address: str, host: str, port: int, timeout: float) -> None:
        self._address = address
        super().__init__(host=host, port=port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return connect.tcp(self._address, port, timeout, allow_private=True)


class _ConnectedTls(smtplib.SMTP_SSL):
    def __init__(self, address: str, host: str, port: int, timeout: float,
                 context: ssl.SSLContext) -> None:
        self._address = address
        super().__init__(host=host, port=port, timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        plain = connect.tcp(self._address, port, timeout, allow_private=True)
        return self.context.wrap_socket(plain, server_hostname=host)


def send_mail(settings: Settings, message: EmailMessage, to: list[str]) -> Sent:
    """Hand one mail to the relay. The relay is the operator's (it may be on this host), so
    its address is not refused; its name is resolved once, and its certificate verified."""
    started = time.perf_counter()
    if not settings.smtp_url:
        return Sent(False, None, "no smtp_url is set: mail cannot be sent", True, 0.0)
    relay = SmtpRelay.parse(settings.smtp_url)
    timeout = settings.alerts_timeout
    try:
        address = outbound.addresses(relay.host, "", timeout)[0]
        context = _context(settings)
        client: smtplib.SMTP
        if relay.scheme == "smtps":
            client = _ConnectedTls(address, host=relay.host, port=relay.port, timeout=timeout,
                                   context=context)
        else:
            client = _Connected(address, host=relay.host, port=relay.port, timeout=timeout)
        with client:
            if relay.scheme == "smtp":
                client.starttls(context=context)  # required: no fallback to plain text
            if relay.user:
                client.login(relay.user, relay.password)
            refused = client.send_message(message, to_addrs=to)
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        return Sent(False, exc.smtp_code, f"SMTP {exc.smtp_code}: {text}"[:500],
                    exc.smtp_code < 500, time.perf_counter() - started)
    except smtplib.SMTPRecipientsRefused as exc:
        return Sent(False, None, f"recipients refused: {exc.recipients}"[:500], False,
                    time.perf_counter() - started)
    except (smtplib.SMTPException, OSError, outbound.Unreachable, ssl.SSLError) as exc:
        return Sent(False, None, f"{type(exc).__name__}: {exc}"[:500], True,
                    time.perf_counter() - started)
    if refused:
        return Sent(False, 550, f"refused: {', '.join(refused)}"[:500], False,
                    time.perf_counter() - started)
    return Sent(True, 250, "", False, time.perf_counter() - started)


def now_unix(now: dt.datetime) -> int:
    return int(now.timestamp())
