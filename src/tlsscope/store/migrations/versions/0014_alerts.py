"""Alerts and digests: the rules of each organisation, the outbox of alerts written in the
transaction of the change that caused them, the deliveries that carry them (one alert, or a
batch) with every attempt kept, the digests' subscribers and opt-outs, and the
installation's own secrets (the key that signs unsubscribe links).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    _rules()
    _outbox()
    _digests()


def _rules() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("organisation", Id, sa.ForeignKey("organisations.id")),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False, server_default=""),
        sa.Column("domains", sa.Text, nullable=False, server_default="[]"),
        sa.Column("kinds", sa.Text, nullable=False, server_default="[]"),
        sa.Column("events", sa.Text, nullable=False, server_default="[]"),
        sa.Column("min_severity", sa.String(16), nullable=False),
        sa.Column("batch", sa.String(16), nullable=False),
        sa.Column("quiet", sa.String(16), nullable=False, server_default=""),
        sa.Column("timezone", sa.Text, nullable=False, server_default="UTC"),
        sa.Column("quiet_critical", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("suppress_days", sa.Integer, nullable=False, server_default="7"),
        sa.Column("lang", sa.String(8), nullable=False, server_default="en"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def _outbox() -> None:
    op.create_table(
        "alert_deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("rule", Id, sa.ForeignKey("alert_rules.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("test", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("batched", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["state", "next_at"])
    op.create_index("ix_alert_deliveries_rule", "alert_deliveries", ["rule", "state", "due_at"])
    op.create_table(
        "alerts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("rule", Id, sa.ForeignKey("alert_rules.id"), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("finding", Id),
        sa.Column("problem", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suppressed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("delivery", Id, sa.ForeignKey("alert_deliveries.id")),
        sa.UniqueConstraint("key", name="uq_alerts_key"),
    )
    op.create_index("ix_alerts_rule_problem", "alerts", ["rule", "problem", "created_at"])
    op.create_index("ix_alerts_finding", "alerts", ["finding"])
    op.create_index("ix_alerts_delivery", "alerts", ["delivery"])
    op.create_table(
        "alert_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("finding", Id),
        sa.Column("check_id", Id),
        sa.Column("fingerprint", sa.Text, nullable=False, server_default=""),
        sa.Column("finding_kind", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, server_default=""),
        sa.Column("severity", sa.String(16), nullable=False, server_default=""),
        sa.Column("before_status", sa.String(16), nullable=False, server_default=""),
        sa.Column("before_severity", sa.String(16), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "alert_attempts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("delivery", Id, sa.ForeignKey("alert_deliveries.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_alert_attempts_delivery", "alert_attempts", ["delivery"])


def _digests() -> None:
    op.add_column("users", sa.Column("digest", sa.String(8), nullable=False,
                                     server_default=""))
    op.create_table(
        "digest_optouts",
        sa.Column("email", sa.Text, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "digests_sent",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("period", sa.String(8), primary_key=True),
        sa.Column("first_day", sa.Date, primary_key=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("secrets", "digests_sent", "digest_optouts", "alert_attempts",
                  "alert_events", "alerts",
                  "alert_deliveries", "alert_rules"):
        op.drop_table(table)
    op.drop_column("users", "digest")
