"""One counting rule (report.counted): sessions under no-policy-found and under sts are
different sessions, and so are two sts versions of one day; only an sts and a tlsa policy of
one domain in one report are two views of the same sessions.

Until now only the policy type with the most sessions counted per domain and report, so a
report with a no-policy-found and an sts policy lost one of them. This recomputes `counted`
for every report with several policies, and moves the difference into the reports' totals and
the per-reporter roll-ups (daily_totals, daily_failures) as deltas; the coarse roll-ups of the
(domain, day) pairs touched are marked to be rebuilt (rollup_dirty).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

from tlsscope.report import counted

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_CHUNK = 2000


def upgrade() -> None:
    connection = op.get_bind()
    reports = sa.table("reports", sa.column("id"), sa.column("day"),
                       sa.column("organization_name"))
    policies = sa.table("policies", *(sa.column(c) for c in (
        "report", "idx", "policy_type", "policy_domain", "mode", "successful", "failed",
        "counted")))
    several = (sa.select(policies.c.report).group_by(policies.c.report)
               .having(sa.func.count() > 1))
    ids = [row[0] for row in connection.execute(several.order_by(policies.c.report))]
    for start in range(0, len(ids), _CHUNK):
        _recount(connection, reports, policies, ids[start:start + _CHUNK])


def _recount(connection: Any, reports: Any, policies: Any, ids: list[int]) -> None:
    rows = connection.execute(
        sa.select(policies.c.report, policies.c.idx, policies.c.policy_type,
                  policies.c.policy_domain, policies.c.mode, policies.c.successful,
                  policies.c.failed, policies.c.counted, reports.c.day,
                  reports.c.organization_name)
        .join(reports, reports.c.id == policies.c.report)
        .where(policies.c.report.in_(ids)).order_by(policies.c.report, policies.c.idx)).all()
    by_report: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_report[row.report].append(row)
    for report, entries in by_report.items():
        now = counted([(e.policy_domain, e.policy_type, e.successful + e.failed)
                       for e in entries])
        if now != [bool(e.counted) for e in entries]:
            _apply(connection, report, entries, now)


def _apply(connection: Any, report: int, entries: list[Any], now: list[bool]) -> None:
    def first(flags: list[bool]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for entry, flag in zip(entries, flags, strict=True):
            if flag:
                out.setdefault(entry.policy_domain, entry)
        return out

    before = [bool(e.counted) for e in entries]
    pairs = set()
    for entry, was, flag in zip(entries, before, now, strict=True):
        pairs.add((entry.policy_domain, entry.day))
        if was != flag:
            sign = 1 if flag else -1
            connection.execute(sa.text(
                "UPDATE policies SET counted = :c WHERE report = :r AND idx = :i"),
                {"c": flag, "r": report, "i": entry.idx})
            _totals(connection, entry, 0, sign * entry.successful, sign * entry.failed)
            connection.execute(sa.text(
                "UPDATE daily_failures SET counted_sessions = counted_sessions + :s * "
                "(SELECT coalesce(sum(d.failed_session_count), 0) FROM failure_details d "
                " WHERE d.report = :r AND d.policy_idx = :i "
                " AND coalesce(d.result_type, '') = daily_failures.result_type "
                " AND coalesce(d.receiving_mx_hostname, '') = daily_failures.receiving_mx_hostname"
                " AND coalesce(d.receiving_ip, '') = daily_failures.receiving_ip) "
                "WHERE domain = :d AND day = :day AND organization_name = :o "
                "AND policy_type = :t"),
                {"s": sign, "r": report, "i": entry.idx, "d": entry.policy_domain,
                 "day": entry.day, "o": entry.organization_name, "t": entry.policy_type})
    old_first, new_first = first(before), first(now)
    for domain in set(old_first) | set(new_first):
        if domain in old_first:
            _totals(connection, old_first[domain], -1, 0, 0)
        if domain in new_first:
            _totals(connection, new_first[domain], 1, 0, 0)
    ok = sum(e.successful for e, flag in zip(entries, now, strict=True) if flag)
    failed = sum(e.failed for e, flag in zip(entries, now, strict=True) if flag)
    connection.execute(sa.text("UPDATE reports SET successful = :s, failed = :f WHERE id = :r"),
                       {"s": ok, "f": failed, "r": report})
    for domain, day in sorted(pairs):
        if domain:
            connection.execute(sa.text(
                "INSERT INTO rollup_dirty (domain, day) VALUES (:d, :day) ON CONFLICT DO NOTHING"),
                {"d": domain, "day": day})


def _totals(connection: Any, entry: Any, reports: int, ok: int, failed: int) -> None:
    connection.execute(sa.text(
        "UPDATE daily_totals SET reports = reports + :n, counted_successful = "
        "counted_successful + :ok, counted_failed = counted_failed + :bad WHERE domain = :d "
        "AND day = :day AND policy_type = :t AND mode = :m AND organization_name = :o"),
        {"n": reports, "ok": ok, "bad": failed, "d": entry.policy_domain, "day": entry.day,
         "t": entry.policy_type, "m": entry.mode or "", "o": entry.organization_name})


def downgrade() -> None:
    """Nothing to undo in the schema; the old rule's counts are not restored."""
