"""Storage: one API over SQLite (the default) and PostgreSQL, chosen by URL.

    tables      the schema;  migrations/  Alembic revisions, applied on every open
    engine      engines and their per-dialect settings
    rows        a read report → rows and roll-up increments (pure)
    write       a batch of arrivals, in one transaction
    queries     reads, returning domain objects (models)

No SQL outside this package: callers use `Store`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from tlsscope.parse.results import InputResult
from tlsscope.receipts import Saved
from tlsscope.store import checks_rows, findings_rows, queries, rollups, write
from tlsscope.store import tables as t
from tlsscope.store.engine import default_url, make_engine
from tlsscope.store.migrate import upgrade
from tlsscope.store.models import (
    DomainFacts,
    DomainStats,
    FailureGroup,
    ReportSummary,
    StoredInput,
    StoredReport,
)
from tlsscope.store.write import Arrival, DkimVerdict

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from tlsscope.analyze.live import LiveCheck

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["Arrival", "DkimVerdict", "Saved", "Store", "default_url"]

_RETRIES = 5


def _retryable(exc: OperationalError) -> bool:
    """Deadlock victims and serialisation failures (PostgreSQL), a busy database (SQLite)."""
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("40P01", "40001") or "database is locked" in str(exc.orig)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._closed = threading.Event()

    @classmethod
    def open(cls, url: str | None = None, *, checkpoints: str = "inline") -> Store:
        """Connect, and bring the schema up to date (safe with concurrent openers).

        `checkpoints="background"` (SQLite): commits never copy the write-ahead log back into
        the database; a thread does it every second without blocking writers, which keeps
        long pauses out of a latency-sensitive writer.
        """
        background = checkpoints == "background" and (url or "sqlite").startswith("sqlite")
        engine = make_engine(url or default_url(), checkpoint_pages=0 if background else 10_000)
        upgrade(engine)
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
        with self.engine.connect() as connection:
            query = select(t.inputs.c.sha256).where(t.inputs.c.sha256.in_(list(digests)))
            return {row[0] for row in connection.execute(query)}

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
                        return write.save(connection, batch, junk_budget)
            except OperationalError as exc:
                if attempt + 1 == _RETRIES or not _retryable(exc):
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def reread(self, digest: str, result: InputResult) -> Saved:
        with self.engine.connect().execution_options(tlsscope_write=True) as connection:
            with connection.begin():
                return write.reread(connection, digest, result)

    # reading ----------------------------------------------------------------------------------

    def reports(self, *, domain: str | None = None, since: dt.date | None = None,
                until: dt.date | None = None, limit: int = 100,
                offset: int = 0) -> list[ReportSummary]:
        with self.engine.connect() as connection:
            return queries.list_reports(connection, domain=domain, since=since, until=until,
                                        limit=limit, offset=offset)

    def find(self, key_prefix: str) -> list[str]:
        with self.engine.connect() as connection:
            return queries.find_report(connection, key_prefix)

    def report(self, key: str) -> StoredReport | None:
        with self.engine.connect() as connection:
            return queries.get_report(connection, key)

    def quarantine(self) -> list[StoredInput]:
        with self.engine.connect() as connection:
            return queries.quarantine(connection)

    def raw(self, digest: str) -> bytes | None:
        """An input's bytes exactly as they arrived (None: unknown, or junk whose bytes were
        dropped to keep its sender within the quarantine's budget)."""
        with self.engine.connect() as connection:
            stored = queries.raw_input(connection, digest)
        return None if stored is None else write.unpack(*stored)

    def inputs(self) -> Iterator[tuple[str, str, bytes]]:
        """Every stored input as (sha256, source, bytes), for re-reading (not the junk whose
        bytes were dropped: there is nothing to read again)."""
        with self.engine.connect() as connection:
            digests = [row[0] for row in connection.execute(
                select(t.inputs.c.sha256).order_by(t.inputs.c.received_at, t.inputs.c.sha256))]
        for digest in digests:
            with self.engine.connect() as connection:
                row = connection.execute(select(t.inputs.c.source, t.inputs.c.codec,
                                                t.inputs.c.raw)
                                         .where(t.inputs.c.sha256 == digest)).first()
            data = write.unpack(row[1], row[2]) if row is not None else None
            if row is not None and data is not None:
                yield digest, row[0], data

    def analyze(self) -> None:
        """Refresh the query planner's statistics (PostgreSQL; SQLite plans without them)."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()

    def fresh(self, domain: str | None = None) -> int:
        """Rebuild the coarse roll-ups marked by the batches stored so far (of one domain, or
        all); returns how many (domain, day) pairs this call rebuilt (another rebuilder may
        take some: see store/rollups.py). The analyst's work: readers never need it. One
        pass over the pairs marked when it starts: under a steady intake, pairs marked
        meanwhile wait for the next call instead of keeping this one going."""
        with self.engine.connect() as connection:
            pairs = rollups.dirty(connection, domain, limit=100_000)
        return sum(self.write(rollups.rebuild, pairs[start:start + 200])
                   for start in range(0, len(pairs), 200))

    def stats(self, domain: str | None, since: dt.date, until: dt.date) -> DomainStats:
        with self.engine.connect() as connection:
            return queries.stats(connection, domain, since, until)

    def failures(self, domain: str, since: dt.date, until: dt.date) -> list[FailureGroup]:
        """Failed sessions by result type and receiving MX, with their reporters."""
        with self.engine.connect() as connection:
            return queries.failure_groups(connection, domain, since, until)

    def facts(self, domain: str, since: dt.date, until: dt.date) -> DomainFacts:
        """Every policy and failure row about a domain in a window (what the detectors read)."""
        with self.engine.connect() as connection:
            return queries.domain_facts(connection, domain, since, until)

    def domains(self, since: dt.date, until: dt.date) -> list[str]:
        """The policy domains with reports in a window."""
        with self.engine.connect() as connection:
            return queries.domains(connection, since, until)

    def refresh_findings(self, now: dt.datetime | None = None, limit: int | None = None,
                         report_domains: Sequence[str] = ()) -> list[str]:
        """Recompute the findings of the domains whose reports changed (at most `limit` of
        them); returns those domains. The computing reads outside any write transaction
        (seconds for a big domain); only storing the result takes the write lock."""
        now = now or dt.datetime.now(dt.UTC)
        with self.engine.connect() as connection:
            marks = findings_rows.stale_marks(connection)[:limit]
        for domain, generation in marks:
            # The mark stays while computing: killed half-way, the domain is still marked.
            with self.engine.connect() as connection:
                computed = findings_rows.compute(connection, domain, report_domains)
            self.write(findings_rows.settle, domain, generation, now, computed)
        return [domain for domain, _ in marks]

    def finding_history(self, domain: str) -> dict[str, list[dict[str, object]]]:
        """Status changes of a domain's stored findings, by fingerprint."""
        with self.engine.connect() as connection:
            return dict(findings_rows.history(connection, domain))

    def stored_findings(self, domain: str) -> list[tuple[str, str, str]]:
        with self.engine.connect() as connection:
            return findings_rows.stored(connection, domain)

    def window_facts(self, domain: str) -> DomainFacts | None:
        """The facts stored findings are computed from: 30 days up to the latest report."""
        with self.engine.connect() as connection:
            return findings_rows.window_facts(connection, domain)

    def finding_domains(self) -> list[str]:
        with self.engine.connect() as connection:
            return findings_rows.domains(connection)

    def stale_domains(self) -> list[str]:
        """Domains whose findings wait to be recomputed."""
        with self.engine.connect() as connection:
            return findings_rows.stale_domains(connection)

    # live checks ------------------------------------------------------------------------------

    def save_check(self, check: LiveCheck) -> int:
        """Keep a live check; the domain's findings are then recomputed with its evidence."""
        with self.engine.connect().execution_options(tlsscope_write=True) as connection:
            with connection.begin():
                return checks_rows.save(connection, check)

    def latest_check(self, domain: str) -> LiveCheck | None:
        with self.engine.connect() as connection:
            return checks_rows.latest(connection, domain)

    def check_history(self, domain: str, limit: int = 50) -> list[LiveCheck]:
        """A domain's live checks, newest first."""
        with self.engine.connect() as connection:
            return checks_rows.history(connection, domain, limit)

    def last_checked(self) -> dict[str, dt.datetime]:
        """Each checked domain → the time of its latest check."""
        with self.engine.connect() as connection:
            return checks_rows.last_checked(connection)

    def failing_since(self, after: int) -> dict[str, int]:
        """Domains with failed sessions in reports stored after report id `after`, with the
        newest such report's id."""
        with self.engine.connect() as connection:
            return checks_rows.failing_since(connection, after)

    def last_report_id(self) -> int:
        with self.engine.connect() as connection:
            return checks_rows.last_report_id(connection)

    def known_domains(self) -> list[str]:
        """Every policy domain with stored reports."""
        with self.engine.connect() as connection:
            return queries.all_domains(connection)
