"""The re-check queue (tables.rechecks): which domains are due for a live check, claimed by
one node of a fleet at a time.

Every domain with reports has a row. The transaction that stores reports of a domain adds a
mark (tables.recheck_marks, with the time of its failed sessions, if any: `queue`, called by
write.save), so no failure is missed however many writers commit in whatever order, and no
writer waits for another (marks are only inserted). Before the queue is read, the marks are
folded into it (`fold`): a mark's failure counts unless a conclusive check started after it.
A conclusive check clears the failure if it started after the latest one (`checked`), an
inconclusive one only notes when it was tried. A node
takes a due domain with `claim`: PostgreSQL skips rows another node holds locked
(`FOR UPDATE SKIP LOCKED`), and the claim itself (claimed_until) keeps the domain from others
while its check runs; a node that dies mid-check loses the claim when it expires.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection

from tlsscope.store import bulk
from tlsscope.store import tables as t
from tlsscope.store.queries import utc_or_none


class Rules:
    """What makes a domain due: its failures (`on_failure`, once `min_gap` after its last
    check or try), its schedule (`every`; None: none), and who may be probed (`owned`: the
    domains an organisation owns plus `listed`; None: any)."""

    def __init__(self, *, every: dt.timedelta | None, on_failure: bool,
                 min_gap: dt.timedelta, owned_only: bool, listed: Iterable[str] = ()) -> None:
        self.every, self.on_failure, self.min_gap = every, on_failure, min_gap
        self.owned_only, self.listed = owned_only, sorted(set(listed))


def queue(connection: Connection, domains: Iterable[str], failing: set[str],
          now: dt.datetime) -> None:
    """Domains whose reports were just stored; `failing`: those with failed sessions."""
    bulk.insert_all(connection, t.recheck_marks, [
        {"domain": d, "failing_at": now if d in failing else None}
        for d in sorted(set(domains) - {""})])


FOLD_ROWS = 50_000  # marks folded per transaction


def fold(connection: Connection) -> int:
    """Fold the oldest marks into the queue (in a write transaction): a row for each domain
    new to it, and its latest failure unless a conclusive check started after it. Returns how
    many marks were folded (FOLD_ROWS: there may be more). Each mark is folded once: the
    delete that takes it locks it, and a second folder finds it gone."""
    m, r = t.recheck_marks, t.rechecks
    oldest = select(m.c.id).order_by(m.c.id).limit(FOLD_ROWS)
    if connection.dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    taken = connection.execute(delete(m).where(m.c.id.in_(oldest.scalar_subquery()))
                               .returning(m.c.domain, m.c.failing_at)).all()
    latest: dict[str, dt.datetime | None] = {}  # domain -> its latest failure (None: none)
    for domain, failing_at in taken:
        latest[domain] = max(filter(None, (latest.get(domain), utc_or_none(failing_at))),
                             default=None)
    folded = sorted(latest.items())
    bulk.insert_new(connection, r, ("domain",), [
        {"domain": d, "failing_at": at, "claimed_by": ""} for d, at in folded], ("domain",))
    failures = [{"d": d, "at": at} for d, at in folded if at is not None]
    if failures:
        connection.execute(
            update(r).where(r.c.domain == bindparam("d"),
                            or_(r.c.checked_at.is_(None), r.c.checked_at < bindparam("at")),
                            or_(r.c.failing_at.is_(None), r.c.failing_at < bindparam("at")))
            .values(failing_at=bindparam("at")), failures)
    return len(taken)


def fold_all(connection: Connection) -> None:
    """Fold every mark (a test's or a command's view of the queue; serve folds as it goes)."""
    while fold(connection) == FOLD_ROWS:
        pass


def checked(connection: Connection, domain: str, at: dt.datetime, conclusive: bool) -> None:
    """A check of `domain` that started `at` ended: the claim is given back; a conclusive one
    is the domain's latest check, and answers the failures marked before it started."""
    fold(connection)  # the domain's row, and the failures marked before this check ended
    r = t.rechecks
    values: dict[str, Any] = {"claimed_until": None, "claimed_by": ""}
    if conclusive:
        values["checked_at"] = at
        values["failing_at"] = case((r.c.failing_at <= at, None), else_=r.c.failing_at)
    else:
        values["tried_at"] = at
    connection.execute(update(r).where(r.c.domain == domain).values(**values))


def _due(rules: Rules, now: dt.datetime) -> ColumnElement[bool]:
    r = t.rechecks
    gap = now - rules.min_gap
    rested = or_(r.c.tried_at.is_(None), r.c.tried_at <= gap)
    urgent = (and_(r.c.failing_at.is_not(None), or_(r.c.checked_at.is_(None),
                                                    r.c.checked_at <= gap))
              if rules.on_failure else false())
    scheduled = (or_(r.c.checked_at.is_(None), r.c.checked_at <= now - rules.every)
                 if rules.every is not None else false())
    free = or_(r.c.claimed_until.is_(None), r.c.claimed_until < now)
    owned: ColumnElement[bool] = true()
    if rules.owned_only:
        d = t.domains
        owned = or_(r.c.domain.in_(select(d.c.name).where(d.c.organisation.is_not(None))),
                    r.c.domain.in_(rules.listed) if rules.listed else false())
    return and_(free, rested, or_(urgent, scheduled), owned)


def _order(rules: Rules) -> list[Any]:
    r = t.rechecks
    failing_first = (r.c.failing_at.is_(None) if rules.on_failure else true())
    return [failing_first, r.c.domain]


def due(connection: Connection, rules: Rules, now: dt.datetime) -> list[str]:
    """The domains due now and claimed by nobody: failing ones first, then by name."""
    r = t.rechecks
    return list(connection.execute(select(r.c.domain).where(_due(rules, now))
                                   .order_by(*_order(rules))).scalars())


def claim(connection: Connection, rules: Rules, now: dt.datetime, holder: str,
          hold: dt.timedelta, limit: int = 1) -> list[str]:
    """Take up to `limit` due domains for `holder` until `now + hold` (in a write
    transaction): no other node is given them meanwhile."""
    fold(connection)
    r = t.rechecks
    query = select(r.c.domain).where(_due(rules, now)).order_by(*_order(rules)).limit(limit)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    domains = list(connection.execute(query).scalars())
    if domains:
        connection.execute(update(r).where(r.c.domain.in_(domains))
                           .values(claimed_until=now + hold, claimed_by=holder))
    return domains


def failing(connection: Connection) -> set[str]:
    """The domains with failures no check has answered yet."""
    r = t.rechecks
    return set(connection.execute(select(r.c.domain).where(r.c.failing_at.is_not(None)))
               .scalars())


def state(connection: Connection, domain: str) -> dict[str, Any] | None:
    """A domain's row in the queue (for the CLI and tests)."""
    r = t.rechecks
    row = connection.execute(select(r).where(r.c.domain == domain)).mappings().first()
    if row is None:
        return None
    return {k: utc_or_none(v) if isinstance(v, dt.datetime) else v for k, v in row.items()}


def totals(connection: Connection, rules: Rules, now: dt.datetime) -> dict[str, int]:
    """The queue at a glance: domains in it, failing, due now, claimed by a node now."""
    r = t.rechecks

    def count(*where: ColumnElement[bool]) -> int:
        return int(connection.execute(select(func.count()).select_from(r).where(*where))
                   .scalar_one())

    return {"domains": count(), "failing": count(r.c.failing_at.is_not(None)),
            "due": count(_due(rules, now)),
            "claimed": count(r.c.claimed_until.is_not(None), r.c.claimed_until >= now)}
