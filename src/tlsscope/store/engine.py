"""Engines for the one store schema: SQLite (the embedded default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on. Its writes start with `BEGIN IMMEDIATE`, so two
writers queue for the lock (busy timeout) instead of failing when one upgrades a read
transaction; reads start a plain deferred transaction and never block writers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.engine import Connection

from tlsscope.errors import MissingExtra

BUSY_TIMEOUT_S = 60


def default_url() -> str:
    from tlsscope.settings import default_database_url

    return default_database_url()


class Pool(NamedTuple):
    """A PostgreSQL engine's connections: `size` kept open and never more (a fleet of nodes
    must fit in max_connections), `timeout` the longest wait for a free one, `pre_ping` a
    round-trip before each use to find a connection the server dropped (the writer skips
    it: its batch is retried on a fresh connection instead, see Store.save)."""

    size: int = 2
    timeout: float = 10.0
    pre_ping: bool = True


DEFAULT_POOL = Pool()


def make_engine(url: str, checkpoint_pages: int = 10_000, pool: Pool = DEFAULT_POOL) -> Engine:
    """`checkpoint_pages`: SQLite's WAL auto-checkpoint; 0 leaves checkpoints to the caller."""
    if url.startswith("sqlite"):
        return _sqlite(url, checkpoint_pages)
    if url.startswith(("postgresql://", "postgres://")):  # the one driver we support
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        return create_engine(url, pool_pre_ping=pool.pre_ping, pool_size=pool.size,
                             max_overflow=0, pool_timeout=pool.timeout, future=True)
    except ModuleNotFoundError as exc:
        if url.startswith("postgresql"):
            raise MissingExtra("PostgreSQL", "postgres", exc.name or "psycopg") from None
        raise ValueError(f"no driver for it (module {exc.name!r} is not installed); tlsscope "
                         "stores in sqlite:///PATH or postgresql+psycopg://...") from None


def _sqlite(url: str, checkpoint_pages: int) -> Engine:
    database = url.split("///", 1)[1] if "///" in url else ""
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, explicitly
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache
        # Checkpoint the write-ahead log every ~40 MB rather than every 4 MB: an ingest batch
        # is a few MB, and a checkpoint per commit doubled its cost.
        cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoint_pages}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("tlsscope_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def dialect_insert(connection: Connection, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (same syntax in SQLite and PostgreSQL)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def insert_new(connection: Connection, table: Table, values: dict[str, Any],
               key: list[str]) -> bool:
    """Insert a row unless one with the same `key` is there (another writer's): True if it
    went in. RETURNING says so, not the rowcount: psycopg may report -1 rows for ON CONFLICT
    DO NOTHING."""
    statement = dialect_insert(connection, table).values(**values).on_conflict_do_nothing(
        index_elements=key)
    return connection.execute(statement.returning(table.c[key[0]])).first() is not None

