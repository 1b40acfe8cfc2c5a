"""The fake internet (tests/support/fakenet.py), started once for the live-check tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fakenet import fake_internet


@pytest.fixture(scope="session")
def nameserver() -> Iterator[str]:
    with fake_internet() as setup:
        yield setup
