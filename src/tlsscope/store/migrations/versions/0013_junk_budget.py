"""The quarantine's budget per source: each input notes who sent it (`origin`) and how many
bytes its raw copy holds (`raw_size`), so that a sender's junk can be kept within a budget,
the oldest dropped first (quarantine_mb_per_source). Inputs stored before this revision have
no origin and are not counted. Also: inputs.dkim_result takes "temperror" (9 characters).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_JUNK = "outcome IN ('rejected', 'not_a_report') AND raw_size > 0"


def upgrade() -> None:
    op.add_column("inputs", sa.Column("origin", sa.Text, nullable=False, server_default=""))
    op.add_column("inputs", sa.Column("raw_size", sa.BigInteger, nullable=False,
                                      server_default="0"))
    if op.get_bind().dialect.name == "postgresql":  # SQLite does not enforce the length
        op.alter_column("inputs", "dkim_result", type_=sa.String(16),
                        existing_type=sa.String(8))
    op.create_index("ix_inputs_junk", "inputs", ["origin", "received_at", "raw_size"],
                    sqlite_where=sa.text(_JUNK), postgresql_where=sa.text(_JUNK))


def downgrade() -> None:
    op.drop_index("ix_inputs_junk", "inputs")
    for column in ("raw_size", "origin"):
        op.drop_column("inputs", column)  # SQLite >= 3.35 drops a column in place
