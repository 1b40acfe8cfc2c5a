from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import sqlite
from tests.support.postgres import PostgresServer
from tlsscope.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def _own_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite's own per-user folders: a command run without --db (or a test that forgets
    it) writes its default store under a temporary XDG_DATA_HOME, never the user's, and no
    tlsscope.toml of the user's is read. Subprocesses inherit it."""
    home = tmp_path_factory.mktemp("home")
    saved = {name: os.environ.get(name) for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store with every migration applied, made once a session: each test's store
    starts as a copy of it (migrating costs 0.1 s a store; the migrations are tested on
    their own, tests/store/test_store.py and test_counting.py)."""
    return sqlite.migrated(tmp_path_factory.mktemp("migrated"))


@pytest.fixture
def store(tmp_path: Path, migrated_sqlite: Path) -> Iterator[Store]:
    """A store on SQLite in a temporary folder (tests/store/ runs each of its tests on
    PostgreSQL too, with a `store` of its own)."""
    opened = Store.open(sqlite.copy(migrated_sqlite, tmp_path))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | None]:
    """One PostgreSQL server for the whole session (see tests/support/postgres.py)."""
    if os.environ.get("TLSSCOPE_TEST_POSTGRES") == "skip":
        yield None
        return
    server = PostgresServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nameserver() -> Iterator[str]:
    """The fake internet (tests/support/fakenet.py), started once for the live-check tests:
    the address of its DNS server."""
    from tests.support.fakenet import fake_internet

    with fake_internet() as setup:
        yield setup


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The PostgreSQL runs of the store tests start a server: `server` (`make test-fast`
    leaves them out). A module whose tests start servers or processes says so itself
    (`pytestmark = pytest.mark.server`)."""
    for item in items:
        if "[postgresql]" in item.nodeid:
            item.add_marker(pytest.mark.server)


class ProcessStarted(AssertionError):
    """`make test-fast` starts no process: a test that does is to be marked `server`."""


@pytest.fixture(autouse=True)
def _no_process_when_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under `make test-fast` (TLSSCOPE_TEST_FAST=1), starting a child process fails the
    test, so that the fast suite stays one process (mark such a test `server`)."""
    if os.environ.get("TLSSCOPE_TEST_FAST") != "1":
        return
    import multiprocessing.process
    import subprocess

    def refuse(*_: object, **__: object) -> None:
        raise ProcessStarted("this test starts a process: mark it server "
                             "(tests/conftest.py) or keep it in one process")

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)
