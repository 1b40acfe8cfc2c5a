"""Provenance: every report records how it came (channel, submitting address), whether that
authenticates it, and whether its reporter had reported the domain before; who has reported
each domain since when (domain_reporters).

Reports stored before this revision take their channel from their input's source, count as
authenticated when ingested from files or stdin or mailed with a passing aligned DKIM
signature, and as from known reporters (their history is what made the reporters known).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN on both databases (SQLite takes it with a default).
    op.add_column("reports", sa.Column("channel", sa.String(8), nullable=False,
                                       server_default="file"))
    op.add_column("reports", sa.Column("peer", sa.Text, nullable=False, server_default=""))
    op.add_column("reports", sa.Column("authenticated", sa.Boolean, nullable=False,
                                       server_default=sa.true()))
    op.add_column("reports", sa.Column("reporter_new", sa.Boolean, nullable=False,
                                       server_default=sa.false()))
    source = "(SELECT i.source FROM inputs i WHERE i.sha256 = reports.input_sha256)"
    op.execute(
        f"UPDATE reports SET channel = CASE "
        f"WHEN {source} LIKE 'https:%' THEN 'https' WHEN {source} LIKE 'smtp:%' THEN 'smtp' "
        f"WHEN {source} LIKE 'lmtp:%' THEN 'lmtp' WHEN {source} LIKE 'imap:%' THEN 'imap' "
        f"WHEN {source} = '<stdin>' THEN 'stdin' ELSE 'file' END")
    op.execute(
        "UPDATE reports SET authenticated = CASE WHEN channel IN ('file', 'stdin') THEN "
        "(1 = 1) WHEN channel = 'https' THEN (1 = 0) ELSE EXISTS (SELECT 1 FROM inputs i "
        "WHERE i.sha256 = reports.input_sha256 AND i.dkim_result = 'pass' "
        "AND i.dkim_aligned = (1 = 1)) END")
    op.create_table(
        "domain_reporters",
        sa.Column("domain", sa.Text, primary_key=True),
        sa.Column("organization_name", sa.Text, primary_key=True),
        sa.Column("first_day", sa.Date, nullable=False),
        sa.Column("first_stored_at", sa.DateTime(timezone=True), nullable=False),
    )
    now = dt.datetime.now(dt.UTC)
    op.get_bind().execute(sa.text(
        "INSERT INTO domain_reporters (domain, organization_name, first_day, first_stored_at) "
        "SELECT domain, organization_name, min(day), :now FROM daily_totals WHERE domain != '' "
        "GROUP BY domain, organization_name"), {"now": now})


def downgrade() -> None:
    op.drop_table("domain_reporters")
    for column in ("reporter_new", "authenticated", "peer", "channel"):
        op.drop_column("reports", column)  # SQLite >= 3.35 drops a column in place
