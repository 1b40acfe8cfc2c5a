"""The analyses read a real store: SQLite in a temporary folder (the store tests cover
PostgreSQL for the same queries)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tlsscope.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'tlsscope.db'}")
    try:
        yield opened
    finally:
        opened.close()
