"""An HTTPS MTA-STS policy host for the tests: one server, a test CA (trustme), and a
behaviour per Host header: the policy, a 404, a redirect, the wrong media type, an oversize
body. Names missing from the certificate get a certificate error from the client.

    with PolicyHost({"mta-sts.good.example": ("policy", TEXT)}, cert_names=[...]) as host:
        host.port, host.ca_file
"""

from __future__ import annotations

import datetime as dt
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme


class PolicyHost:
    def __init__(self, behaviours: dict[str, tuple[str, str]], cert_names: list[str],
                 ca: trustme.CA | None = None, expiring: list[str] | None = None) -> None:
        """`expiring`: names served (by SNI) a certificate that ends in 5 days."""
        self.ca = ca or trustme.CA()
        self._folder = tempfile.TemporaryDirectory()
        self.ca_file = str(Path(self._folder.name) / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*cert_names).configure_cert(context)
        if expiring:
            now = dt.datetime.now(dt.UTC)
            soon = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ca.issue_cert(*expiring, not_before=now - dt.timedelta(days=80),
                               not_after=now + dt.timedelta(days=5)).configure_cert(soon)
            names = set(expiring)

            def pick(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
                if name in names:
                    sock.context = soon

            context.sni_callback = pick
        behaviours = {k.lower(): v for k, v in behaviours.items()}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                kind, value = behaviours.get(host, ("status", "404"))
                if kind == "policy" and self.path == "/.well-known/mta-sts.txt":
                    self._send(200, "text/plain", value.encode())
                elif kind == "media":
                    self._send(200, "text/html", value.encode())
                elif kind == "redirect":
                    self.send_response(301)
                    self.send_header("Location", value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif kind == "oversize":
                    self._send(200, "text/plain", b"x" * int(value))
                else:
                    self._send(int(value) if kind == "status" else 404, "text/plain", b"no")

            def _send(self, code: int, media: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", media)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PolicyHost:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._folder.cleanup()
