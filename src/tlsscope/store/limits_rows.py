"""Limits every node of a fleet shares: wrong passwords per login key, and HTTP request
token buckets per client (tables login_failures, rate_buckets).

Times are epoch seconds from the caller's clock. Keys are digests the caller makes (an
address and an email of any length become 64 characters).
"""

from __future__ import annotations

from sqlalchemy import case, delete, func, literal, select, text
from sqlalchemy.engine import Connection

from tlsscope.store import tables as t
from tlsscope.store.engine import dialect_insert


def login_failures(connection: Connection, key: str, since: float) -> tuple[int, float]:
    """How many failures `key` has had since `since`, and the oldest of them (0: none)."""
    f = t.login_failures
    count, oldest = connection.execute(
        select(func.count(), func.min(f.c.at)).where(f.c.key == key, f.c.at > since)).one()
    return int(count), float(oldest or 0.0)


def login_attempt(connection: Connection, key: str, now: float, window: float,
                  most: int) -> float:
    """Count a login attempt for `key` as a failure until it succeeds (`login_forget`),
    unless `key` has had `most` failures within `window`: then nothing is counted, and the
    answer is when the oldest of them was (0: the attempt may go ahead). Attempts for one key
    queue for a lock (PostgreSQL's advisory lock on the key; SQLite's write lock), so many at
    once, on any nodes, get exactly `most` tries."""
    f = t.login_failures
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 7715))"),
                           {"key": key})
    connection.execute(delete(f).where(f.c.key == key, f.c.at <= now - window))
    count, oldest = login_failures(connection, key, now - window)
    if count >= most:
        return max(oldest, 1e-9)
    connection.execute(f.insert().values(key=key, at=now))
    return 0.0


def login_prune(connection: Connection, before: float) -> None:
    """Every key's failures from before `before` go."""
    connection.execute(delete(t.login_failures).where(t.login_failures.c.at < before))


def login_forget(connection: Connection, key: str) -> None:
    """A right password: `key`'s failures are forgotten."""
    connection.execute(delete(t.login_failures).where(t.login_failures.c.key == key))


def take_token(connection: Connection, key: str, now: float, rate: float,
               burst: float) -> float:
    """Take one request's token from `key`'s bucket (refilled at `rate` per second, holding
    up to `burst`), in one statement that every node's requests queue on: 0 if a token was
    there, else the seconds until one will be."""
    b = t.rate_buckets
    insert = dialect_insert(connection, b).values(key=key, tokens=burst - 1, at=now,
                                                  allowed=True)
    grown = b.c.tokens + (literal(now) - b.c.at) * literal(rate)
    filled = case((grown > burst, literal(burst)), (grown < 0, literal(0.0)), else_=grown)
    statement = insert.on_conflict_do_update(index_elements=["key"], set_={
        "tokens": case((filled >= 1, filled - 1), else_=filled),
        "allowed": filled >= 1,
        "at": case((b.c.at > now, b.c.at), else_=literal(now))})  # a clock behind: no refill
    tokens, allowed = connection.execute(statement.returning(b.c.tokens, b.c.allowed)).one()
    return 0.0 if allowed else max(0.0, (1 - float(tokens)) / rate)


def forget_buckets(connection: Connection, idle_since: float) -> None:
    """Buckets not used since `idle_since` (full again by now) go."""
    connection.execute(delete(t.rate_buckets).where(t.rate_buckets.c.at < idle_since))
