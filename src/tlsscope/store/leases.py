"""Leases: the one node of a fleet doing a job (the analyst's passes, draining an IMAP
mailbox, the retention purge) until its lease expires unrenewed.

A lease is a row (name, holder, expires_at). Taking it is one statement, an insert that on
conflict takes the row over only if it is this holder's already or has expired; so of many
nodes asking at once exactly one gets it, and a node that dies (kill -9, a lost network) loses
it at most `seconds` after its last renewal. The same statement works on SQLite (one node:
it always wins) and on PostgreSQL. Times are the nodes' clocks (keep them in NTP sync; a
skew shorter than the lease only delays a takeover).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, delete, select
from sqlalchemy.engine import Connection

from tlsscope.store import tables as t
from tlsscope.store.engine import dialect_insert
from tlsscope.store.queries import utc


def take(connection: Connection, name: str, holder: str, seconds: float,
         now: dt.datetime) -> bool:
    """Take or renew the lease `name` for `seconds`: True if `holder` has it now."""
    lease = t.leases
    statement = dialect_insert(connection, lease).values(
        name=name, holder=holder, acquired_at=now, expires_at=now + dt.timedelta(seconds=seconds))
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at,
              # a renewal keeps the time it was first taken
              "acquired_at": case((lease.c.holder == holder, lease.c.acquired_at),
                                  else_=statement.excluded.acquired_at)},
        where=(lease.c.holder == holder) | (lease.c.expires_at < now))
    return connection.execute(statement.returning(lease.c.name)).first() is not None



def release(connection: Connection, name: str, holder: str) -> None:
    """Give the lease up (a clean stop): another node may take it at once."""
    connection.execute(delete(t.leases).where(t.leases.c.name == name,
                                              t.leases.c.holder == holder))


def holder(connection: Connection, name: str, now: dt.datetime) -> str | None:
    """Who holds the lease now (None: nobody, or it expired)."""
    row = connection.execute(select(t.leases.c.holder, t.leases.c.expires_at)
                             .where(t.leases.c.name == name)).first()
    return row[0] if row is not None and utc(row[1]) >= now else None


def every(connection: Connection) -> list[tuple[str, str, dt.datetime, dt.datetime]]:
    """Every lease: (name, holder, acquired_at, expires_at), by name."""
    lease = t.leases
    return [(row[0], row[1], utc(row[2]), utc(row[3])) for row in connection.execute(
        select(lease.c.name, lease.c.holder, lease.c.acquired_at, lease.c.expires_at)
        .order_by(lease.c.name))]
