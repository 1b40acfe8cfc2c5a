"""Whether the database answers, for `/healthz`: a `SELECT 1`, and what went wrong in a line;
and, for `/readyz`, whether its schema is this tlsscope's."""

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


def schema_problem(store: Store | None) -> str | None:
    """None when the schema is this tlsscope's (migrate.HEAD), else what it is."""
    from tlsscope.store.migrate import HEAD, stored_revision

    assert store is not None
    try:
        stored = stored_revision(store.engine)
    except SQLAlchemyError as exc:
        return f"cannot be read ({type(getattr(exc, 'orig', None) or exc).__name__})"
    if stored == HEAD:
        return None
    return f"at revision {stored or 'none'}, not this tlsscope's {HEAD}"
