"""Shared helpers for the store tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tlsscope.app.ingest import load as ingest
from tlsscope.receipts import IngestTotals
from tlsscope.receive.files import iter_inputs
from tlsscope.settings import Settings
from tlsscope.store import Store

FIX = Path(__file__).parents[1] / "fixtures"


def ingest_paths(store: Store, paths: Iterable[Path | str]) -> IngestTotals:
    settings = Settings()
    return ingest(store, iter_inputs([str(p) for p in paths], settings.max_input_bytes),
                  settings)
