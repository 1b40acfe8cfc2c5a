"""Stored inputs read back whole, for reading them again (tlsscope reingest)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from tlsscope.store import tables as t


def digests(connection: Connection) -> list[str]:
    """Every stored input's sha256, oldest first."""
    i = t.inputs
    return list(connection.execute(
        select(i.c.sha256).order_by(i.c.received_at, i.c.sha256)).scalars())


def packed(connection: Connection, digest: str) -> tuple[str, str, bytes] | None:
    """(source, codec, packed bytes) of one input (store/write.py unpacks them)."""
    i = t.inputs
    row = connection.execute(select(i.c.source, i.c.codec, i.c.raw)
                             .where(i.c.sha256 == digest)).mappings().first()
    return None if row is None else (row["source"], row["codec"], row["raw"])
