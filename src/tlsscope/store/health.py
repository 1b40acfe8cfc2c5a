"""Whether the database answers, for `/healthz`: a `SELECT 1`, and what went wrong in a line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from tlsscope.store import Store


def _select_one(connection: Connection) -> None:
    connection.exec_driver_sql("SELECT 1")


def unreachable(store: Store) -> str | None:
    """None when the database answers, else why not (the driver's first line)."""
    try:
        store.read(_select_one)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc  # the driver's error, when there is one
        first = str(cause).strip().splitlines()
        return f"{type(cause).__name__}: {first[0] if first else 'no detail'}"
    return None
