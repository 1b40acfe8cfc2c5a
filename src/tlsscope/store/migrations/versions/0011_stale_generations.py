"""Stale marks with a generation: a recomputation of a domain's findings takes its mark away
only if no batch marked it again meanwhile, and no longer before it computes, so one killed
half-way leaves the domain marked.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stale_domains", sa.Column("gen", sa.BigInteger, nullable=False,
                                             server_default="0"))


def downgrade() -> None:
    op.drop_column("stale_domains", "gen")
