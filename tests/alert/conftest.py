from __future__ import annotations

from collections.abc import Iterator

import pytest

from tlsscope import alert


@pytest.fixture(autouse=True)
def wired() -> Iterator[None]:
    """The outbox hears every change, as in every process that writes (tlsscope.alert.wire)."""
    alert.wire()
    try:
        yield
    finally:
        alert.unwire()
