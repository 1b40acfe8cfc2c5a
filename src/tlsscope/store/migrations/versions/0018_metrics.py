"""What /metrics reads for 10,000 domains in well under a second (docs/metrics.md):

- domain_reporters.last_day: the latest day each organisation reported each domain (the
  writer sets it with the pair's first report, the analyst moves it on as it rebuilds the
  coarse roll-ups: store/rollups.py), filled here from daily_totals;
- indexes on the day of domain_days and failure_days that cover /metrics' queries, so "the
  last 7 days of every domain" reads those days' index entries, not the whole history;
- check_certificates: the certificates the latest conclusive live check of each domain saw
  (host, address, expiry), replaced by each new one (store/checks_rows.py), filled here from
  the checks already stored.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("domain_reporters", sa.Column("last_day", sa.Date))
    op.execute("UPDATE domain_reporters SET last_day = (SELECT max(t.day) FROM daily_totals t "
               "WHERE t.domain = domain_reporters.domain AND t.organization_name = "
               "domain_reporters.organization_name AND t.reports > 0)")
    op.create_index("ix_domain_days_day", "domain_days",
                    ["day", "domain", "policy_type", "mode", "counted_successful",
                     "counted_failed"])
    op.create_index("ix_failure_days_day", "failure_days",
                    ["day", "domain", "result_type", "receiving_mx_hostname",
                     "counted_sessions"])
    certificates = op.create_table(
        "check_certificates",
        sa.Column("domain", sa.Text, primary_key=True),
        sa.Column("step", sa.String(16), primary_key=True),
        sa.Column("host", sa.Text, primary_key=True),
        sa.Column("address", sa.Text, primary_key=True),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("checked_at", When, nullable=False),
    )
    assert certificates is not None
    op.bulk_insert(certificates, list(_latest_certificates()))


def _latest_certificates() -> list[dict[str, object]]:
    """The certificates of each domain's latest conclusive check, read as the check stored
    them (the rule of tlsscope.live_check.certificates, on the JSON)."""
    bind = op.get_bind()
    latest = bind.execute(sa.text(
        "SELECT c.domain, c.checked_at, c.data FROM checks c WHERE c.id = (SELECT c2.id FROM "
        "checks c2 WHERE c2.domain = c.domain AND c2.status != 'inconclusive' "
        "ORDER BY c2.checked_at DESC, c2.id DESC LIMIT 1)"))
    rows: dict[tuple[str, str, str, str], dict[str, object]] = {}
    for domain, checked_at, data in latest:
        try:
            steps = json.loads(data).get("steps", [])
        except (ValueError, AttributeError):
            continue
        if isinstance(checked_at, str):  # SQLite hands the text back
            checked_at = dt.datetime.fromisoformat(checked_at)
        if checked_at.tzinfo is None:
            checked_at = checked_at.replace(tzinfo=dt.UTC)
        for step in steps if isinstance(steps, list) else []:
            row = _certificate(domain, checked_at, step)
            if row is not None:  # as store/checks_rows.py keeps them: the last one seen
                rows[(domain, str(row["step"]), str(row["host"]), str(row["address"]))] = row
    return list(rows.values())


def _certificate(domain: str, checked_at: dt.datetime,
                 step: object) -> dict[str, object] | None:
    if not isinstance(step, dict) or step.get("step") not in ("mx", "mta-sts-policy"):
        return None
    try:
        expires = dt.datetime.fromisoformat(str(step.get("expires") or ""))
    except ValueError:
        return None
    expires = expires.replace(tzinfo=dt.UTC) if expires.tzinfo is None else \
        expires.astimezone(dt.UTC)
    host = step.get("host") or (f"mta-sts.{domain}" if step["step"] == "mta-sts-policy" else "")
    target = str(step.get("target", ""))
    address = (target.rsplit("[", 1)[1][:-1] if target.endswith("]") and "[" in target
               else target.rsplit(" via ", 1)[1] if " via " in target else "")
    if not host:
        return None
    return {"domain": domain, "step": step["step"], "host": str(host)[:255],
            "address": address[:64], "expires_at": expires, "checked_at": checked_at}


def downgrade() -> None:
    op.drop_table("check_certificates")
    op.drop_index("ix_failure_days_day", "failure_days")
    op.drop_index("ix_domain_days_day", "domain_days")
    with op.batch_alter_table("domain_reporters") as batch:
        batch.drop_column("last_day")
