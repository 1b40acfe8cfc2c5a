"""Every store test runs twice: on SQLite in a temporary folder, and on a real PostgreSQL
server (the session's, see tests/support/postgres.py) in a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import sqlite
from tests.support.postgres import PostgresServer
from tlsscope.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path,
           postgres: PostgresServer | None) -> str:
    """An empty database of the test's own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tlsscope.db'}"
    if postgres is None:
        pytest.skip("TLSSCOPE_TEST_POSTGRES=skip")
    return postgres.create_database()


@pytest.fixture
def store(db_url: str, tmp_path: Path, migrated_sqlite: Path) -> Iterator[Store]:
    """A migrated store in that database (on SQLite, the session's migrated copy)."""
    opened = Store.open(sqlite.copy(migrated_sqlite, tmp_path) if db_url.startswith("sqlite")
                        else db_url)
    try:
        yield opened
    finally:
        opened.close()
