"""A row's id in a URL path: 1 to MAX_ROW_ID, else a 422 that names it (a larger number
names no row, and the database driver could not even send it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from tlsscope.vocab import MAX_ROW_ID

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A stored row's id.")]
