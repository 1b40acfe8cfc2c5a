"""Retention and privacy per organisation: its own limits (days raw inputs, reports and live
checks are kept; NULL: the installation's setting) and whether sending IPs are truncated at
intake; the purges that ran; and the indexes through which a purge finds the reports and
repeats an input carries (PostgreSQL checks the foreign keys of a deleted input through them).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("keep_inputs_days", sa.Integer))
        batch.add_column(sa.Column("keep_reports_days", sa.Integer))
        batch.add_column(sa.Column("keep_checks_days", sa.Integer))
        batch.add_column(sa.Column("truncate_ips", sa.Boolean))
    op.create_index("ix_reports_input", "reports", ["input_sha256"])
    op.create_index("ix_repeats_input", "report_repeats", ["input_sha256"])
    op.create_table(
        "retention_runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("started_at", When, nullable=False),
        sa.Column("finished_at", When),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("counts", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_retention_runs_started", "retention_runs", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_retention_runs_started", "retention_runs")
    op.drop_table("retention_runs")
    op.drop_index("ix_repeats_input", "report_repeats")
    op.drop_index("ix_reports_input", "reports")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("truncate_ips")
        batch.drop_column("keep_checks_days")
        batch.drop_column("keep_reports_days")
        batch.drop_column("keep_inputs_days")
