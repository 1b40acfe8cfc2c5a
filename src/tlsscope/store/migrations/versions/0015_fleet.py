"""A fleet of nodes on one database: leases for the jobs one node does at a time, the re-check
queue (every domain with reports, the failing ones marked in the report's own transaction, and
claimed by one node at a time), and the limits every node shares (login failures, HTTP request
buckets).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("acquired_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
    )
    op.create_table(
        "rechecks",
        sa.Column("domain", sa.Text, primary_key=True),
        sa.Column("failing_at", When),
        sa.Column("checked_at", When),
        sa.Column("tried_at", When),
        sa.Column("claimed_until", When),
        sa.Column("claimed_by", sa.Text, nullable=False, server_default=""),
    )
    # Every domain with reports, each with its latest conclusive check (inconclusive checks
    # do not count: store/checks_rows.py).
    op.execute(
        "INSERT INTO rechecks (domain, checked_at, claimed_by) "
        "SELECT d.domain, (SELECT max(c.checked_at) FROM checks c "
        "WHERE c.domain = d.domain AND c.status <> 'inconclusive'), '' "
        "FROM (SELECT DISTINCT domain FROM daily_totals WHERE domain <> '') d")
    op.create_table(
        "login_failures",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("allowed", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for table in ("rate_buckets", "login_failures", "rechecks", "leases"):
        op.drop_table(table)
