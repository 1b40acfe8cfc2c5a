"""Apply the Alembic migrations up to the newest, on every start; safe to run concurrently.

The upgrade runs in one transaction that first takes a lock (a PostgreSQL advisory lock, or
SQLite's write lock), so a second process waiting for it finds the schema already current.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

_LOCK_ID = 0x7715C0DE
HEAD = "0014"  # the newest revision in migrations/versions (a test checks it is)


def upgrade(engine: Engine) -> None:
    if _stored_revision(engine) == HEAD:  # the common case: skip importing Alembic (0.1 s)
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.connect().execution_options(tlsscope_write=True) as connection:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _stored_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None
