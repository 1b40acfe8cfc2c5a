from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import PostgresServer

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | None]:
    """One PostgreSQL server for the whole session (see tests/postgres.py)."""
    if os.environ.get("TLSSCOPE_TEST_POSTGRES") == "skip":
        yield None
        return
    server = PostgresServer()
    try:
        yield server
    finally:
        server.stop()
