"""The audit log's rows (tlsscope.app.audit writes and lists them): appended by the actions
themselves, inside their own transaction where they run one; never changed or removed here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from tlsscope.store import tables as t


class AuditEntry(msgspec.Struct, kw_only=True):
    """One action: who (`actor`: an email, `cli:<os user>`, `system`; `actor_id`: the
    user's id, when a user), when, from where (`address`: the client's IP, or `cli`), what
    (`action`, a dotted name such as `user.created`; `target`; `detail`)."""

    id: int
    at: dt.datetime
    actor: str
    actor_id: int | None
    address: str
    action: str
    target: str
    detail: dict[str, Any]


def add(connection: Connection, at: dt.datetime, actor: str, actor_id: int | None,
        address: str, action: str, target: str, detail: dict[str, Any]) -> int:
    a = t.audit_log
    return int(connection.execute(a.insert().values(
        at=at, actor=actor, actor_id=actor_id, address=address, action=action, target=target,
        detail=msgspec.json.encode(detail).decode()).returning(a.c.id)).scalar_one())


def _like(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + ".%"


def entries(connection: Connection, limit: int, *, action: str = "",
            since: dt.datetime | None = None, before: int | None = None) -> list[AuditEntry]:
    """Newest first: at most `limit`; `action` the action or its family (`login`: both
    `login.succeeded` and `login.failed`); from `since`; with an id below `before` (the
    next page)."""
    a = t.audit_log
    query = select(a).order_by(a.c.id.desc()).limit(limit)
    if action:
        query = query.where(or_(a.c.action == action, a.c.action.like(_like(action),
                                                                     escape="\\")))
    if since is not None:
        query = query.where(a.c.at >= since)
    if before is not None:
        query = query.where(a.c.id < before)
    out = []
    for row in connection.execute(query).mappings():
        at = row["at"]
        try:
            detail = msgspec.json.decode(row["detail"])
        except msgspec.DecodeError:
            detail = {"unreadable": row["detail"][:200]}
        out.append(AuditEntry(
            id=int(row["id"]), at=at if at.tzinfo else at.replace(tzinfo=dt.UTC),
            actor=row["actor"], actor_id=row["actor_id"], address=row["address"],
            action=row["action"], target=row["target"],
            detail=detail if isinstance(detail, dict) else {"value": detail}))
    return out
