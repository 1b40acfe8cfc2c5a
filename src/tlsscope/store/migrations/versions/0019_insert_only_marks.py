"""Marks that writers only ever insert, so that transactions storing reports at the same time
(two on one node, or on several nodes) never wait for each other's marks:

- rollup_dirty: one row per (domain, day) per transaction that marked it, with an id of its
  own (was one row per pair, upserted, which locked it until the writer committed);
- stale_domains: one row per domain per marking transaction, with an id (was one row per
  domain with a generation bumped by each writer, which locked it the same way);
- recheck_marks: new; each transaction that stores reports of a domain adds a row (with the
  time of its failures, if it had any), and the re-checker folds them into `rechecks` before
  it reads the queue (was an upsert of the domain's `rechecks` row by every writer).

The marks there are kept (stale marks with their generation's order; the re-check queue is
unchanged).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    _replace("rollup_dirty", [sa.Column("id", Id, primary_key=True, autoincrement=True),
                              sa.Column("domain", sa.Text, nullable=False),
                              sa.Column("day", sa.Date, nullable=False)],
             "domain, day", "SELECT domain, day FROM {old} ORDER BY domain, day")
    op.create_index("ix_rollup_dirty_pair", "rollup_dirty", ["domain", "day"])
    op.create_index("ix_rollup_dirty_day", "rollup_dirty", ["day"])
    _replace("stale_domains", [sa.Column("id", Id, primary_key=True, autoincrement=True),
                               sa.Column("domain", sa.Text, nullable=False)],
             "domain", "SELECT domain FROM {old} ORDER BY gen, domain")
    op.create_index("ix_stale_domains_domain", "stale_domains", ["domain"])
    op.create_table(
        "recheck_marks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("failing_at", sa.DateTime(timezone=True)),
    )


def _replace(name: str, columns: list[sa.Column[object]], into: str, rows: str,
             serial: bool = True) -> None:
    """Table `name` made anew with `columns`, holding `rows` (a SELECT from {old}), under its
    own name and its own constraint and sequence names (PostgreSQL names a primary key's
    index after the table it was made for)."""
    new = f"{name}_new"
    op.create_table(new, *columns)
    op.execute(f"INSERT INTO {new} ({into}) " + rows.format(old=name))
    op.drop_table(name)
    op.rename_table(new, name)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER INDEX {new}_pkey RENAME TO {name}_pkey")
        if serial:
            op.execute(f"ALTER SEQUENCE {new}_id_seq RENAME TO {name}_id_seq")


def downgrade() -> None:
    op.drop_table("recheck_marks")
    op.drop_index("ix_stale_domains_domain", "stale_domains")
    _replace("stale_domains", [sa.Column("domain", sa.Text, primary_key=True),
                               sa.Column("gen", sa.BigInteger, nullable=False,
                                         server_default="0")],
             "domain, gen", "SELECT domain, max(id) FROM {old} GROUP BY domain", serial=False)
    op.drop_index("ix_rollup_dirty_day", "rollup_dirty")
    op.drop_index("ix_rollup_dirty_pair", "rollup_dirty")
    _replace("rollup_dirty", [sa.Column("domain", sa.Text, primary_key=True),
                              sa.Column("day", sa.Date, primary_key=True)],
             "domain, day", "SELECT DISTINCT domain, day FROM {old}", serial=False)
