"""A real webhook receiver on loopback (http.server in a thread): it keeps every request
(headers and body) and answers from a script of statuses ([500, 500, 204]: two failures, then
success; the last one repeats), or redirects."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple


class Request(NamedTuple):
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, statuses: list[int] | None = None, location: str = "",
                 delay_first: float = 0.0) -> None:
        self.statuses = list(statuses or [204])
        self.location = location
        self.delay_first = delay_first  # the first request is answered this late
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                size = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(size)
                with receiver.lock:
                    receiver.requests.append(Request(self.path, {k.lower(): v for k, v in
                                                                 self.headers.items()}, body))
                    status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 \
                        else receiver.statuses[0]
                    delay = receiver.delay_first if len(receiver.requests) == 1 else 0.0
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):  # the sender was killed
                    pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # http.server's 5 resets a burst of senders

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        """The X-Tlsscope-Delivery of each request, in order."""
        with self.lock:
            return [r.headers.get("x-tlsscope-delivery", "") for r in self.requests]


@contextmanager
def receiver(statuses: list[int] | None = None, location: str = "",
             delay_first: float = 0.0) -> Iterator[Receiver]:
    started = Receiver(statuses, location, delay_first).start()
    try:
        yield started
    finally:
        started.stop()
