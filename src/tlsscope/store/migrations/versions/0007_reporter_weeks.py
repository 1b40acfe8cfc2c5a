"""Per reporter and week roll-up, for the breakdown by reporter over long periods.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reporter_weeks",
        sa.Column("domain", sa.Text, primary_key=True),
        sa.Column("week", sa.Date, primary_key=True),
        sa.Column("organization_name", sa.Text, primary_key=True),
        sa.Column("reports", sa.BigInteger, nullable=False),
        sa.Column("counted_successful", sa.BigInteger, nullable=False),
        sa.Column("counted_failed", sa.BigInteger, nullable=False),
    )
    # The Monday of each day's week, in each dialect.
    week = ("(date_trunc('week', day))::date" if op.get_bind().dialect.name == "postgresql"
            else "date(day, '-' || ((CAST(strftime('%w', day) AS INTEGER) + 6) % 7) || ' days')")
    op.execute(
        "INSERT INTO reporter_weeks (domain, week, organization_name, reports, "
        f"counted_successful, counted_failed) SELECT domain, {week}, organization_name, "
        "sum(reports), sum(counted_successful), sum(counted_failed) FROM daily_totals "
        f"GROUP BY domain, {week}, organization_name")


def downgrade() -> None:
    op.drop_table("reporter_weeks")
