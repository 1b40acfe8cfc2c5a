"""The schema's version on every open (store/migrate.py), `tlsscope migrate`, and a node
that waits for it: a newer schema is refused, an older one migrated or waited for."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.cli import tlsscope
from tests.support.postgres import PostgresServer
from tests.support.webserver import free_port, wait_healthy
from tlsscope.store import SchemaMismatch, Store
from tlsscope.store.engine import make_engine
from tlsscope.store.migrate import HEAD, stored_revision, upgrade


def _set_revision(url: str, revision: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_a_schema_newer_than_this_tlsscope_is_refused(db_url: str) -> None:
    Store.open(db_url).close()
    _set_revision(db_url, "0099")
    with pytest.raises(SchemaMismatch, match="revision 0099, newer than this tlsscope"):
        Store.open(db_url)
    with pytest.raises(SchemaMismatch):  # also when it would otherwise migrate
        Store.open(db_url, migrate=True)


def test_without_migrating_an_older_schema_is_waited_for(db_url: str) -> None:
    with pytest.raises(SchemaMismatch, match="run `tlsscope migrate`"):
        Store.open(db_url, migrate=False, wait=0.3)
    engine = make_engine(db_url)
    assert stored_revision(engine) is None  # it did not migrate

    def later() -> None:
        time.sleep(1.0)
        upgrade(engine)

    migrating = threading.Thread(target=later)
    migrating.start()
    started = time.monotonic()
    with Store.open(db_url, migrate=False, wait=30) as store:
        assert stored_revision(store.engine) == HEAD
    assert 0.9 < time.monotonic() - started < 10
    migrating.join()
    engine.dispose()


@pytest.mark.server
def test_tlsscope_migrate_and_its_check(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    before = tlsscope("migrate", "--check", "--db", db)
    assert before.returncode == 1 and b"none (empty database)" in before.stdout
    done = tlsscope("migrate", "--db", db)
    assert done.returncode == 0 and done.stdout.decode().strip() == (
        f"schema at {HEAD} (was none)")
    again = tlsscope("migrate", "--db", db)
    assert again.stdout.decode().strip() == f"schema at {HEAD} already"
    assert tlsscope("migrate", "--check", "--db", db).returncode == 0
    _set_revision(db, "0099")
    newer = tlsscope("migrate", "--check", "--db", db)
    assert newer.returncode == 2 and b"newer than this tlsscope knows" in newer.stdout
    assert tlsscope("migrate", "--db", db).returncode == 2  # never "upgraded" backwards
    refused = tlsscope("reports", "--db", db)
    assert refused.returncode == 2
    assert b"revision 0099, newer than this tlsscope knows" in refused.stderr
    assert b"Traceback" not in refused.stderr
    _set_revision(db, "zzzz")
    foreign = tlsscope("migrate", "--check", "--db", db)
    assert foreign.returncode == 2 and b"which no tlsscope release made" in foreign.stdout
    unreachable = tlsscope("migrate", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    assert unreachable.returncode != 0 and b"cannot migrate" in unreachable.stderr
    assert b"Traceback" not in unreachable.stderr


@pytest.mark.server
def test_serve_waits_for_tlsscope_migrate(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    port = free_port()
    env = {**os.environ, "TLSSCOPE_MIGRATE_ON_START": "false",
           "TLSSCOPE_SCHEMA_WAIT_SECONDS": "60", "TLSSCOPE_CHECK_EVERY_HOURS": "0"}
    process = subprocess.Popen([sys.executable, "-m", "tlsscope", "serve", "--db", db,
                                "--listen", f"127.0.0.1:{port}"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(2)
        assert process.poll() is None  # waiting, not migrating
        assert stored_revision(make_engine(db)) is None
        assert tlsscope("migrate", "--db", db).returncode == 0
        wait_healthy(f"http://127.0.0.1:{port}", process, seconds=60)
    finally:
        process.terminate()
        process.communicate(timeout=30)
    gave_up = tlsscope("reports", "--db", f"sqlite:///{tmp_path / 'empty.db'}",
                       env={"TLSSCOPE_MIGRATE_ON_START": "false",
                            "TLSSCOPE_SCHEMA_WAIT_SECONDS": "0"})
    assert gave_up.returncode == 2 and b"run `tlsscope migrate`" in gave_up.stderr


@pytest.mark.server
def test_two_migrations_at_once_one_does_it(postgres: PostgresServer | None) -> None:
    if postgres is None:
        pytest.skip("TLSSCOPE_TEST_POSTGRES=skip")
    db = postgres.create_database()
    runs = [subprocess.Popen([sys.executable, "-m", "tlsscope", "migrate", "--db", db],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    said = sorted(run.communicate(timeout=120)[0].decode().strip() for run in runs)
    assert [run.returncode for run in runs] == [0, 0, 0]
    assert said == [f"schema at {HEAD} (was none)"] + [f"schema at {HEAD} already"] * 2
