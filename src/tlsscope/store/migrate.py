"""The schema's version: Alembic migrations up to the newest, safe to run concurrently.

The upgrade runs in one transaction that first takes a lock (a PostgreSQL advisory lock, or
SQLite's write lock), so a second process waiting for it finds the schema already current.
Every open asks `prepare`: a schema newer than this tlsscope knows is refused (a newer node
migrated it; this one would misread it); an older one is upgraded, or, when the fleet
migrates as its own step (`tlsscope migrate`, setting migrate_on_start = false), waited for.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, text

from tlsscope.errors import TlsscopeError

_LOCK_ID = 0x7715C0DE
HEAD = "0019"  # the newest revision in migrations/versions (a test checks it is)
_VERSIONS = Path(__file__).parent / "migrations" / "versions"


class SchemaMismatch(TlsscopeError):
    """The database's schema is not the one this tlsscope works with."""


def known_revisions() -> set[str]:
    """The revisions this tlsscope ships (their files are named NNNN_what.py)."""
    return {p.name[:4] for p in _VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py")}


def unknown(stored: str) -> str:
    """What to say of a revision this tlsscope does not ship."""
    if stored.isdigit() and stored > HEAD:
        return (f"the database's schema is at revision {stored}, newer than this tlsscope "
                f"knows (up to {HEAD}): another node runs a newer tlsscope; upgrade this one")
    return (f"the database's schema is at revision {stored[:40]!r}, which no tlsscope "
            f"release made (this one knows up to {HEAD}): not a tlsscope database?")


def prepare(engine: Engine, migrate: bool = True, wait: float = 0.0) -> None:
    """Make sure the schema is this tlsscope's (HEAD): refuse a newer one; upgrade an older
    one (`migrate`), or wait up to `wait` seconds for `tlsscope migrate` to do it."""
    deadline = time.monotonic() + wait
    while True:
        stored = stored_revision(engine)
        if stored == HEAD:
            return
        if stored is not None and stored not in known_revisions():
            raise SchemaMismatch(unknown(stored))
        if migrate:
            upgrade(engine)
            return
        if time.monotonic() >= deadline:
            raise SchemaMismatch(
                f"the database's schema is at revision {stored or 'none (empty)'}, older than "
                f"this tlsscope's {HEAD}, and migrate_on_start is false: run `tlsscope "
                f"migrate` (waited {wait:g} s, setting schema_wait_seconds)")
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def upgrade(engine: Engine) -> str | None:
    """Upgrade to HEAD; returns the revision it found under the lock, before upgrading (HEAD:
    another process had just done it). A schema newer than HEAD: see prepare."""
    if stored_revision(engine) == HEAD:  # the common case: skip importing Alembic (0.1 s)
        return HEAD
    from alembic import command
    from alembic.config import Config
    from alembic.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.connect().execution_options(tlsscope_write=True) as connection:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
            found = MigrationContext.configure(connection).get_current_revision()
            if found != HEAD:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            return found


def current_revision(engine: Engine) -> str | None:
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def stored_revision(engine: Engine) -> str | None:
    """The schema's revision (None: an empty database). A database that cannot be reached
    raises (it is not taken for an empty one)."""
    with engine.connect() as connection:
        if not engine.dialect.has_table(connection, "alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
