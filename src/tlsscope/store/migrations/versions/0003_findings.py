"""Findings with status history, and the domains whose findings are stale.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table("stale_domains", sa.Column("domain", sa.Text, primary_key=True))
    op.create_table(
        "findings",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("first_seen", sa.Date, nullable=False),
        sa.Column("last_seen", sa.Date, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("domain", "fingerprint", name="uq_findings_domain_fingerprint"),
    )
    op.create_table(
        "finding_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("finding", _ID, sa.ForeignKey("findings.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
    )
    op.create_index("ix_finding_events_finding", "finding_events", ["finding"])
    # Domains that already have reports get their findings computed on first read.
    op.execute("INSERT INTO stale_domains (domain) SELECT DISTINCT domain FROM daily_totals "
               "WHERE domain <> ''")


def downgrade() -> None:
    op.drop_index("ix_finding_events_finding", "finding_events")
    op.drop_table("finding_events")
    op.drop_table("findings")
    op.drop_table("stale_domains")
