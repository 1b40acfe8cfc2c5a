"""uvicorn serving the web app on loopback, in a thread or as `tlsscope serve`."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from tlsscope.intake import Intake
from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.web.app import create_app


def wait_healthy(url: str, process: object = None, seconds: float = 30) -> None:
    """Until `url`/readyz says ready (a started `tlsscope serve`), or fail."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).is_success:
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

    def __init__(self, store: Store, settings: Settings, dashboard: bool = False) -> None:
        self.store, self.settings = store, settings
        self.intake = Intake(store, settings)
        self.port = free_port()
        app = create_app(self.intake, settings, store=store if dashboard else None)
        config = uvicorn.Config(app, host="127.0.0.1",
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
