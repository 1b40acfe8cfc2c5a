"""The quarantine's budget per sender: junk (rejected inputs and non-reports) keeps its raw
bytes only up to `quarantine_mb_per_source` per origin, the oldest dropped first.

An origin is who sent the input (tables.inputs.origin): a client address or IPv6 /64, the
IMAP mailbox, mail piped in. Dropping keeps the row (digest, reasons, arrivals: a copy sent
again is still known, and the quarantine still says what came and why it was refused) and
empties `raw`. Only junk is counted and dropped: an input that carries a report (a mail with
one good and one bad report is rejected, and its good report stored) has origin "", as have
the files the operator ingested, and neither is budgeted. The budget counts the bytes as
stored (zlib-compressed when that saves space).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.engine import Connection

from tlsscope.clients import client_key
from tlsscope.store import tables as t
from tlsscope.vocab import PEER_CHANNELS, Channel

log = logging.getLogger("tlsscope.store")
JUNK = ("rejected", "not_a_report")
DROPPED = "dropped"  # the codec of an input whose raw bytes were dropped
_PAGE = 1000  # digests per UPDATE


def origin_of(channel: str, peer: str, carries_reports: bool) -> str:
    """The origin an arrival is counted under ("": not budgeted). An input that carries a
    report is never junk, even when rejected for another of its parts."""
    if channel == Channel.FILE or carries_reports:
        return ""
    if peer and channel in PEER_CHANNELS:
        return client_key(peer)[:200]
    return channel


def keep_within(connection: Connection, origins: Iterable[str], budget: int) -> int:
    """Drop the oldest junk bytes of each origin over `budget` bytes; how many inputs lost
    theirs. In the caller's transaction: what it stores and what it drops commit together."""
    dropped = 0
    for origin in sorted(set(origins) - {""}):
        over = _held(connection, origin) - budget
        if over > 0:
            dropped += _drop_oldest(connection, origin, over, budget)
    return dropped


def _junk(origin: str) -> ColumnElement[bool]:
    i = t.inputs
    return and_(i.c.origin == origin, i.c.outcome.in_(JUNK), i.c.raw_size > 0)


def _held(connection: Connection, origin: str) -> int:
    total = connection.execute(select(func.coalesce(func.sum(t.inputs.c.raw_size), 0))
                               .where(_junk(origin))).scalar_one()
    return int(total)


def _drop_oldest(connection: Connection, origin: str, over: int, budget: int) -> int:
    i = t.inputs
    doomed: list[str] = []
    freed = 0
    query = (select(i.c.sha256, i.c.raw_size).where(_junk(origin))
             .order_by(i.c.received_at, i.c.sha256).execution_options(stream_results=True))
    rows = connection.execute(query)  # oldest first, read only as far as needed
    for digest, size in rows:
        doomed.append(digest)
        freed += int(size)
        if freed >= over:
            break
    rows.close()
    for start in range(0, len(doomed), _PAGE):
        connection.execute(i.update().where(i.c.sha256.in_(doomed[start:start + _PAGE]))
                           .values(raw=b"", raw_size=0, codec=DROPPED))
    log.warning("quarantine over its budget: the oldest junk's bytes dropped", extra={
        "fields": {"origin": origin, "inputs": len(doomed), "bytes": freed,
                   "budget_bytes": budget}})
    return len(doomed)
