"""The initial schema (see tlsscope/store/tables.py for what each table is for).

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    _inputs()
    _reports()
    _rollups()


def _inputs() -> None:
    op.create_table(
        "inputs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("codec", sa.String(8), nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("errors", sa.Text, nullable=False),
        sa.Column("warnings", sa.Text, nullable=False),
        sa.Column("reader_version", sa.Integer, nullable=False),
    )
    op.create_index("ix_inputs_rejected", "inputs", ["received_at"],
                    sqlite_where=sa.text("outcome = 'rejected'"),
                    postgresql_where=sa.text("outcome = 'rejected'"))
    op.create_table(
        "arrivals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("input_sha256", sa.String(64), sa.ForeignKey("inputs.sha256"), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_index("ix_arrivals_input", "arrivals", ["input_sha256"])


def _reports() -> None:
    op.create_table(
        "reports",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("organization_name", sa.Text, nullable=False),
        sa.Column("report_id", sa.Text, nullable=False),
        sa.Column("contact_info", sa.Text),
        sa.Column("start_at", _TS, nullable=False),
        sa.Column("end_at", _TS, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("input_sha256", sa.String(64), sa.ForeignKey("inputs.sha256"), nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("successful", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("warnings", sa.Text, nullable=False),
        sa.Column("extras", sa.Text, nullable=False),
        sa.Column("originals", sa.Text, nullable=False),
        sa.Column("stored_at", _TS, nullable=False),
        sa.UniqueConstraint("key", name="uq_reports_key"),
    )
    op.create_index("ix_reports_day", "reports", ["day"])
    op.create_table(
        "report_repeats",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("report", _ID, sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("input_sha256", sa.String(64), sa.ForeignKey("inputs.sha256"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("seen_at", _TS, nullable=False),
    )
    op.create_index("ix_repeats_report", "report_repeats", ["report"])
    op.create_table(
        "policies",
        sa.Column("report", _ID, sa.ForeignKey("reports.id"), primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("policy_type", sa.Text, nullable=False),
        sa.Column("policy_domain", sa.Text, nullable=False),
        sa.Column("policy_strings", sa.Text),
        sa.Column("mx_host", sa.Text),
        sa.Column("mode", sa.Text),
        sa.Column("max_age", sa.BigInteger),
        sa.Column("successful", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("counted", sa.Boolean, nullable=False),
        sa.Column("details_listed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_policies_domain", "policies", ["policy_domain", "report"])
    op.create_table(
        "failure_details",
        sa.Column("report", _ID, primary_key=True),
        sa.Column("policy_idx", sa.Integer, primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("result_type", sa.Text),
        sa.Column("failed_session_count", sa.BigInteger),
        sa.Column("sending_mta_ip", sa.Text),
        sa.Column("receiving_mx_hostname", sa.Text),
        sa.Column("receiving_mx_helo", sa.Text),
        sa.Column("receiving_ip", sa.Text),
        sa.Column("additional_information", sa.Text),
        sa.Column("failure_reason_code", sa.Text),
    )


def _rollups() -> None:
    op.create_table(
        "daily_totals",
        sa.Column("domain", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("policy_type", sa.Text, primary_key=True),
        sa.Column("mode", sa.Text, primary_key=True),
        sa.Column("organization_name", sa.Text, primary_key=True),
        sa.Column("reports", sa.BigInteger, nullable=False),
        sa.Column("successful", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("counted_successful", sa.BigInteger, nullable=False),
        sa.Column("counted_failed", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "daily_failures",
        sa.Column("domain", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("organization_name", sa.Text, primary_key=True),
        sa.Column("policy_type", sa.Text, primary_key=True),
        sa.Column("result_type", sa.Text, primary_key=True),
        sa.Column("receiving_mx_hostname", sa.Text, primary_key=True),
        sa.Column("receiving_ip", sa.Text, primary_key=True),
        sa.Column("sessions", sa.BigInteger, nullable=False),
        sa.Column("counted_sessions", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("daily_failures", "daily_totals", "failure_details", "policies",
                  "report_repeats", "reports", "arrivals", "inputs"):
        op.drop_table(table)
