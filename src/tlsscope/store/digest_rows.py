"""Digest rows: who subscribed, what happened to findings in a period, and the marks that
make the schedule send each digest once. tlsscope.alert.digest decides; this only stores.

A digest's mark (`digests_sent`, `mark`) is taken before the mail is handed to the relay and given
back (`release`) when the relay refuses it: several serve nodes never send one digest twice,
and a failed one is tried again.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.engine import Connection

from tlsscope.store import tables as t
from tlsscope.store.engine import insert_new
from tlsscope.store.findings_rows import StoredFinding
from tlsscope.store.queries import utc
from tlsscope.vocab import FindingStatus


class Subscriber(NamedTuple):
    email: str
    lang: str  # "" : none chosen
    admin: bool
    organisation: int | None
    period: str  # "" : none


class FindingEvent(NamedTuple):
    """A finding that opened or was resolved in a period."""

    event: str  # opened | resolved
    at: dt.datetime
    domain: str
    severity: str
    finding: StoredFinding


def subscribers(connection: Connection) -> list[Subscriber]:
    """Every user who is not disabled, with the digest they chose ("" : none)."""
    u = t.users
    return [Subscriber(row[0], row[1] or "", row[2] == "admin", row[3], row[4] or "")
            for row in connection.execute(
                select(u.c.email, u.c.lang, u.c.role, u.c.organisation, u.c.digest)
                .where(u.c.disabled.is_(False)).order_by(u.c.email))]


# Reports cover a UTC day and come a day or two after it: what they tell is news that long.
REPORT_LAG = dt.timedelta(days=2)


def finding_events(connection: Connection, domains: list[str], start: dt.datetime,
                   end: dt.datetime) -> list[FindingEvent]:
    """The findings of these domains first stored in [start, end) (opened), and those
    resolved in it, oldest first; each only when the reports' days make it news of the
    period: opened when its first failing day is at most REPORT_LAG before `start`,
    resolved when its last one is (a backlog of old reports ingested today does not make
    last year's problems this week's)."""
    if not domains:
        return []
    oldest = (start - REPORT_LAG).date()
    f, e = t.findings, t.finding_events
    first = (select(e.c.finding, func.min(e.c.at).label("at"))
             .group_by(e.c.finding).subquery())
    columns = (f.c.id, f.c.fingerprint, f.c.status, f.c.data, f.c.texts, f.c.domain)
    opened = connection.execute(
        select(*columns, first.c.at, f.c.severity)
        .join(first, first.c.finding == f.c.id)
        .where(f.c.domain.in_(domains), first.c.at >= start, first.c.at < end,
               f.c.first_seen >= oldest)).all()
    resolved = connection.execute(
        select(*columns, e.c.at, e.c.severity)
        .join(e, e.c.finding == f.c.id)
        .where(f.c.domain.in_(domains), e.c.status == FindingStatus.RESOLVED, e.c.at >= start,
               e.c.at < end, f.c.last_seen >= oldest)).all()
    out = []
    for event, rows in (("opened", opened), ("resolved", resolved)):
        for row in rows:
            stored = StoredFinding(id=int(row[0]), fingerprint=row[1], status=row[2],
                                   data=row[3], texts=row[4] or "")
            out.append(FindingEvent(event, utc(row[6]), row[5], row[7], stored))
    return sorted(out, key=lambda x: (x.at, x.finding.id, x.event))


def mark(connection: Connection, scope: str, period: str, first_day: dt.date,
         now: dt.datetime) -> bool:
    """Mark a digest sent: False when it was already (another node took it)."""
    return insert_new(connection, t.digests_sent,
                      {"scope": scope, "period": period, "first_day": first_day,
                       "sent_at": now}, ["scope", "period", "first_day"])


def sent_marks(connection: Connection, period: str, first_day: dt.date) -> set[str]:
    """The scope keys of the digests of this period marked sent."""
    s = t.digests_sent
    return {row[0] for row in connection.execute(
        select(s.c.scope).where(s.c.period == period, s.c.first_day == first_day))}


def release(connection: Connection, scope: str, period: str, first_day: dt.date) -> None:
    """Give a digest's mark back (its mail was not sent): the schedule tries it again."""
    s = t.digests_sent
    connection.execute(delete(s).where(and_(s.c.scope == scope, s.c.period == period,
                                            s.c.first_day == first_day)))


def opt_in(connection: Connection, email: str) -> None:
    """Take an address's opt-out away (its owner subscribed again)."""
    o = t.digest_optouts
    connection.execute(delete(o).where(o.c.email == email.lower()))


def set_digest(connection: Connection, user_id: int, period: str) -> None:
    connection.execute(update(t.users).where(t.users.c.id == user_id).values(digest=period))


def digest_of(connection: Connection, user_id: int) -> str:
    return str(connection.execute(select(t.users.c.digest).where(t.users.c.id == user_id))
               .scalar() or "")


def opt_out(connection: Connection, email: str, now: dt.datetime) -> None:
    insert_new(connection, t.digest_optouts, {"email": email.lower(), "at": now}, ["email"])


def opted_out(connection: Connection) -> set[str]:
    return {row[0] for row in connection.execute(select(t.digest_optouts.c.email))}


def secret(connection: Connection, name: str, make: str) -> str:
    """The installation's secret `name`, made from `make` the first time (every node then
    reads the one that was stored first)."""
    insert_new(connection, t.secrets, {"name": name, "value": make}, ["name"])
    return str(connection.execute(select(t.secrets.c.value)
                                  .where(t.secrets.c.name == name)).scalar_one())

