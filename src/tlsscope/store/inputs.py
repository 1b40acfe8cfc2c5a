"""Stored inputs read back whole: their bytes, for an export or reading them again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from tlsscope.store import tables as t
from tlsscope.store.write import unpack


def digests(connection: Connection) -> list[str]:
    """Every stored input's sha256, oldest first."""
    i = t.inputs
    return list(connection.execute(
        select(i.c.sha256).order_by(i.c.received_at, i.c.sha256)).scalars())


def stored(connection: Connection, digest: str) -> tuple[str, bytes | None] | None:
    """(source, the bytes as they arrived) of one input; the bytes are None once dropped to
    keep its sender within the quarantine's budget (store/junk.py). None: no such input."""
    i = t.inputs
    row = connection.execute(select(i.c.source, i.c.codec, i.c.raw)
                             .where(i.c.sha256 == digest)).mappings().first()
    return None if row is None else (row["source"], unpack(row["codec"], row["raw"]))
