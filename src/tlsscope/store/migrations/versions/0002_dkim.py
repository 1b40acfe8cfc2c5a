"""DKIM results on inputs (RFC 8460 §3).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inputs") as table:
        table.add_column(sa.Column("dkim_result", sa.String(8)))
        table.add_column(sa.Column("dkim_domain", sa.Text))
        table.add_column(sa.Column("dkim_aligned", sa.Boolean))
        table.add_column(sa.Column("dkim_tlsrpt_key", sa.Boolean))
        table.add_column(sa.Column("dkim_detail", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("inputs") as table:
        for name in ("dkim_detail", "dkim_tlsrpt_key", "dkim_aligned", "dkim_domain",
                     "dkim_result"):
            table.drop_column(name)
