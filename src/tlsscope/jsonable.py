"""Values as JSON, the way the CLI (`--json`) and the API write them."""

from __future__ import annotations

from typing import Any

import msgspec


def plain(value: Any) -> Any:
    """NamedTuples become objects (msgspec would write them as arrays), recursively."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def encode(value: Any) -> bytes:
    return msgspec.json.encode(plain(value))
