"""Storage: one API over SQLite (the default) and PostgreSQL, chosen by URL. Storage only:
it never analyses (the store imports nothing from tlsscope.analyze's detectors, nor from the
application above it).

    tables      the schema;  migrations/  Alembic revisions, applied on every open
    engine      engines and their per-dialect settings
    rows        a read report → rows and roll-up increments (pure)
    write       a batch of arrivals, in one transaction (bulk: one statement per table)
    queries, browse, accounts, findings_rows, checks_rows, rollups, inputs, alerts_rows,
    alert_log_rows, digest_rows
                rows functions: f(connection, ...) → domain objects (models), never rows

No SQL outside this package. One way in: `Store.read(fn, ...)` / `Store.write(fn, ...)` run a
rows function on a connection (a write in one transaction), and `Store.save` stores a batch
of arrivals (retried as a deadlock victim). tlsscope.app (and tlsscope.alert, above it) is
their caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, OperationalError

from tlsscope.parse.results import InputResult
from tlsscope.receipts import DkimVerdict, Saved
from tlsscope.store import tables as t
from tlsscope.store import write
from tlsscope.store.engine import DEFAULT_POOL, Pool, default_url, make_engine
from tlsscope.store.migrate import SchemaMismatch, prepare
from tlsscope.store.write import Arrival

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["Arrival", "DkimVerdict", "Pool", "Saved", "SchemaMismatch", "Store", "default_url"]

_RETRIES = 5


def _retryable(exc: DBAPIError) -> bool:
    """Deadlock victims and serialisation failures (PostgreSQL), a busy database (SQLite),
    and a pooled connection the server had dropped (found when used: the pool is not pinged
    before each batch, a round-trip per batch saved)."""
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("40P01", "40001") or "database is locked" in str(exc.orig)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._closed = threading.Event()
        self._after_save: list[Callable[[Connection, list[Saved]], None]] = []

    @classmethod
    def open(cls, url: str | None = None, *, checkpoints: str = "inline", pool: Pool = DEFAULT_POOL,
             migrate: bool = True, wait: float = 0.0) -> Store:
        """Connect, and make sure the schema is this tlsscope's: an older one is brought up
        to date (safe with concurrent openers), or with `migrate=False` waited for (`wait`
        seconds); a newer one is refused (store/migrate.py).

        `checkpoints="background"` (SQLite): commits never copy the write-ahead log back into
        the database; a thread does it every second without blocking writers, which keeps
        long pauses out of a latency-sensitive writer.
        """
        background = checkpoints == "background" and (url or "sqlite").startswith("sqlite")
        engine = make_engine(url or default_url(), checkpoint_pages=0 if background else 10_000,
                             pool=pool)
        try:
            prepare(engine, migrate, wait)
        except BaseException:
            engine.dispose()
            raise
        store = cls(engine)
        if background:
            threading.Thread(target=store._checkpoint, name="tlsscope-checkpoint",
                             daemon=True).start()
        return store

    def _checkpoint(self) -> None:
        while not self._closed.wait(1.0):
            try:
                with self.engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except OperationalError:
                continue

    def close(self) -> None:
        self._closed.set()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # any rows function (store/accounts.py, store/browse.py) --------------------------------

    def read(self, fn: Callable[Concatenate[Connection, P], R], /, *args: P.args,
             **kwargs: P.kwargs) -> R:
        """Run a read-only rows function on a connection."""
        with self.engine.connect() as connection:
            return fn(connection, *args, **kwargs)

    def write(self, fn: Callable[Concatenate[Connection, P], R], /, *args: P.args,
              **kwargs: P.kwargs) -> R:
        """Run a rows function in one write transaction."""
        with self.engine.connect().execution_options(tlsscope_write=True) as connection:
            with connection.begin():
                return fn(connection, *args, **kwargs)

    # writing ----------------------------------------------------------------------------------

    def known(self, digests: Sequence[str]) -> set[str]:
        """Which of these inputs (by sha256) are stored already."""
        if not digests:
            return set()
        query = select(t.inputs.c.sha256).where(t.inputs.c.sha256.in_(list(digests)))
        with self.engine.connect() as connection:
            if connection.dialect.name == "postgresql":  # one round-trip, not BEGIN..ROLLBACK
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            return set(connection.execute(query).scalars())

    def save(self, batch: Sequence[Arrival], junk_budget: int = 0) -> list[Saved]:
        """Store a batch in one transaction: all of it, or (on a crash) none of it.

        `junk_budget`: bytes of raw junk kept per sender; over it, the sender's oldest junk
        loses its bytes in the same transaction (store/junk.py). 0: no budget.

        Writers take row locks in one order (sorted keys), so they do not deadlock; should the
        database still pick this transaction as a deadlock victim, it is retried.
        """
        for attempt in range(_RETRIES):
            try:
                with self.engine.connect().execution_options(tlsscope_write=True) as connection:
                    with connection.begin():
                        saved = write.save(connection, batch, junk_budget)
                        for fn in self._after_save:
                            fn(connection, saved)
                        return saved
            except DBAPIError as exc:
                if attempt + 1 == _RETRIES or not _retryable(exc):
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def after_save(self, fn: Callable[[Connection, list[Saved]], None]) -> None:
        """Call `fn` inside every save's transaction, once the batch is written (its
        receipts in hand): what it writes commits or rolls back with the batch."""
        if fn not in self._after_save:
            self._after_save.append(fn)

    def reread(self, digest: str, result: InputResult) -> Saved:
        with self.engine.connect().execution_options(tlsscope_write=True) as connection:
            with connection.begin():
                return write.reread(connection, digest, result)

    def analyze(self) -> None:
        """Refresh the query planner's statistics (PostgreSQL; SQLite plans without them)."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
