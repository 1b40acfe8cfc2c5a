"""Live checks of domains, kept with their time; reports indexed by when they were stored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "checks",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_checks_domain_checked_at", "checks", ["domain", "checked_at"])
    op.create_index("ix_reports_stored_at", "reports", ["stored_at"])


def downgrade() -> None:
    op.drop_index("ix_reports_stored_at", "reports")
    op.drop_index("ix_checks_domain_checked_at", "checks")
    op.drop_table("checks")
