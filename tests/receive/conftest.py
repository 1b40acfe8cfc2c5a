"""Real servers on loopback for the receiver tests: uvicorn serving the app, aiosmtpd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.webserver import Running
from tlsscope.settings import Settings
from tlsscope.store import Store


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
