"""MX hosts for the tests: aiosmtpd servers, each on its own loopback address (127.0.0.N) and
the same port, each with its own certificate story: good, no STARTTLS, expired, wrong name,
self-signed, expiring soon, missing intermediate.

    with MxHosts(ca, {"good.mail.example": ("127.0.0.3", "good"), ...}) as hosts:
        hosts.port
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
import tempfile
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller

# Every failing probe aborts a TLS handshake; aiosmtpd logs each as an ERROR traceback.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MxHosts:
    def __init__(self, ca: trustme.CA, hosts: dict[str, tuple[str, str]]) -> None:
        self._folder = tempfile.TemporaryDirectory()
        self.port = _free_port()
        self.controllers: list[Controller] = []
        self.certs: dict[str, bytes] = {}  # each host's leaf certificate, DER
        now = dt.datetime.now(dt.UTC)
        for name, (address, story) in hosts.items():
            context = None if story == "plain" else self._context(ca, name, story, now)
            self.controllers.append(Controller(
                _Sink(), hostname=address, port=self.port, server_hostname=name,
                tls_context=context, require_starttls=False))

    def _context(self, ca: trustme.CA, name: str, story: str,
                 now: dt.datetime) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if story == "selfsigned":
            other = trustme.CA()
            other.cert_pem.write_to_path(self._path(name, "cert"))
            other.private_key_pem.write_to_path(self._path(name, "key"))
            context.load_cert_chain(self._path(name, "cert"), self._path(name, "key"))
            return context
        if story == "nointermediate":
            leaf = ca.create_child_ca().issue_cert(name)
            leaf.cert_chain_pems[0].write_to_path(self._path(name, "cert"))  # leaf only
            leaf.private_key_pem.write_to_path(self._path(name, "key"))
            context.load_cert_chain(self._path(name, "cert"), self._path(name, "key"))
            return context
        windows = {"expired": (now - dt.timedelta(days=90), now - dt.timedelta(days=2)),
                   "soon": (now - dt.timedelta(days=80), now + dt.timedelta(days=5))}
        before, after = windows.get(story, (None, None))
        names = ["other.example.net"] if story == "wrongname" else [name]
        leaf = ca.issue_cert(*names, not_before=before, not_after=after)
        leaf.configure_cert(context)
        self.certs[name] = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
        return context

    def _path(self, name: str, kind: str) -> str:
        return str(Path(self._folder.name) / f"{name}.{kind}.pem")

    def __enter__(self) -> MxHosts:
        for controller in self.controllers:
            controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        for controller in self.controllers:
            controller.stop()
        self._folder.cleanup()
