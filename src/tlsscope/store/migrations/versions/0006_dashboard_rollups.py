"""Dashboard speed: per-domain-day roll-ups without the reporter, the reporters-of-a-problem
index, the listing order index, and stored translations of findings.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "domain_days",
        sa.Column("domain", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("policy_type", sa.Text, primary_key=True),
        sa.Column("mode", sa.Text, primary_key=True),
        sa.Column("reports", sa.BigInteger, nullable=False),
        sa.Column("successful", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("counted_successful", sa.BigInteger, nullable=False),
        sa.Column("counted_failed", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "failure_days",
        sa.Column("domain", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("policy_type", sa.Text, primary_key=True),
        sa.Column("result_type", sa.Text, primary_key=True),
        sa.Column("receiving_mx_hostname", sa.Text, primary_key=True),
        sa.Column("sessions", sa.BigInteger, nullable=False),
        sa.Column("counted_sessions", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO domain_days (domain, day, policy_type, mode, reports, successful, failed, "
        "counted_successful, counted_failed) SELECT domain, day, policy_type, mode, "
        "sum(reports), sum(successful), sum(failed), sum(counted_successful), "
        "sum(counted_failed) FROM daily_totals GROUP BY domain, day, policy_type, mode")
    op.execute(
        "INSERT INTO failure_days (domain, day, policy_type, result_type, "
        "receiving_mx_hostname, sessions, counted_sessions) SELECT domain, day, policy_type, "
        "result_type, receiving_mx_hostname, sum(sessions), sum(counted_sessions) "
        "FROM daily_failures GROUP BY domain, day, policy_type, result_type, "
        "receiving_mx_hostname")
    op.create_index("ix_daily_failures_problem", "daily_failures",
                    ["domain", "result_type", "receiving_mx_hostname", "day",
                     "organization_name"])
    op.create_index("ix_reports_order", "reports",
                    [sa.text("day DESC"), "organization_name", "report_id"])
    op.add_column("findings", sa.Column("texts", sa.Text))
    # Recompute every domain's findings once, so that their translations get stored.
    op.execute("INSERT INTO stale_domains (domain) SELECT DISTINCT domain FROM findings "
               "WHERE domain NOT IN (SELECT domain FROM stale_domains)")


def downgrade() -> None:
    op.drop_column("findings", "texts")
    op.drop_index("ix_reports_order", "reports")
    op.drop_index("ix_daily_failures_problem", "daily_failures")
    op.drop_table("failure_days")
    op.drop_table("domain_days")
