"""Lighter writes for the intake: two indexes fewer on reports (re-checks find new reports
by id; listings walk ix_reports_day), and the coarse roll-ups rebuilt off the intake's path
from the (domain, day) pairs marked in rollup_dirty.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_reports_order", "reports")
    op.drop_index("ix_reports_stored_at", "reports")
    op.create_table("rollup_dirty", sa.Column("domain", sa.Text, primary_key=True),
                    sa.Column("day", sa.Date, primary_key=True))
    # The reporters of a problem: a roll-up rebuilt off the intake's path, instead of an
    # index on daily_failures that every stored failure row paid for.
    op.drop_index("ix_daily_failures_problem", "daily_failures")
    op.create_table(
        "failure_reporters",
        sa.Column("domain", sa.Text, primary_key=True),
        sa.Column("result_type", sa.Text, primary_key=True),
        sa.Column("receiving_mx_hostname", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("organization_name", sa.Text, primary_key=True),
        sa.Column("sessions", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO failure_reporters (domain, result_type, receiving_mx_hostname, day, "
        "organization_name, sessions) SELECT domain, result_type, receiving_mx_hostname, day, "
        "organization_name, sum(sessions) FROM daily_failures GROUP BY domain, result_type, "
        "receiving_mx_hostname, day, organization_name")


def downgrade() -> None:
    op.drop_table("failure_reporters")
    op.create_index("ix_daily_failures_problem", "daily_failures",
                    ["domain", "result_type", "receiving_mx_hostname", "day",
                     "organization_name"])
    op.drop_table("rollup_dirty")
    op.create_index("ix_reports_stored_at", "reports", ["stored_at"])
    op.create_index("ix_reports_order", "reports",
                    [sa.text("day DESC"), "organization_name", "report_id"])
