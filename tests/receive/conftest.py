"""Real servers on loopback for the receiver tests: uvicorn serving the app, aiosmtpd."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tlsscope.intake import Intake
from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.web.app import create_app

# The receivers check DKIM on live mail; the tests that are not about DKIM must not ask the
# system's resolver (there is no network here, and lookups would only add time-outs).
OFFLINE = Settings(dkim_verify="never")


def wait_healthy(url: str, process: object = None, seconds: float = 30) -> None:
    """Until `url`/healthz answers (a started `tlsscope serve`), or fail."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        alive = process is None or process.poll() is None  # type: ignore[attr-defined]
        assert time.monotonic() < deadline and alive, "the server did not start"
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Running:
    """A store, its intake and the web app served by uvicorn in a thread."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self.intake = Intake(store, settings)
        self.port = free_port()
        config = uvicorn.Config(create_app(self.intake, settings), host="127.0.0.1",
                                port=self.port, log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.intake.close()


@pytest.fixture
def settings() -> Settings:
    return Settings(http_rate_per_minute=0, http_body_timeout=2.0, dkim_verify="never",
                    max_decompressed_bytes=1024 * 1024, http_max_body_bytes=256 * 1024)


@pytest.fixture
def web(tmp_path: Path, settings: Settings) -> Iterator[Running]:
    store = Store.open(f"sqlite:///{tmp_path / 'web.db'}")
    running = Running(store, settings)
    try:
        yield running
    finally:
        running.stop()
        store.close()
