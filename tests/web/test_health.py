"""/readyz: each part named, 503 when one is not working; a database that fails or hangs is
reported (its error logged, only its kind in the body), never waited for. /healthz: alive
whatever the parts say."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from tlsscope.intake import Intake
from tlsscope.settings import Settings
from tlsscope.store import Saved, Store
from tlsscope.web import health
from tlsscope.web.app import create_app
from tlsscope.web.health import Health

pytestmark = pytest.mark.server


class _NoIntake:
    def submit(self, raw: object) -> Future[Saved]:
        raise AssertionError("nothing is posted here")

    def close(self) -> None:
        pass


def _get(app: object, path: str = "/readyz") -> httpx.Response:
    import asyncio

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    # In a thread of its own: the browser tests leave an event loop running in this one.
    answers: list[httpx.Response] = []
    runner = threading.Thread(target=lambda: answers.append(asyncio.run(call())))
    runner.start()
    runner.join(30)
    (answer,) = answers
    return answer


def test_healthz_says_alive_while_every_part_is_down(tmp_path: Path) -> None:
    """Liveness: a dead writer or an unreachable database is /readyz's 503; restarting the
    process would not help, so /healthz stays 200."""
    from tlsscope import __version__

    class Away:
        def read(self, fn: object) -> None:
            from sqlalchemy.exc import OperationalError

            raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    check = Health({"writer": lambda: "the writer process stopped"}, Away())  # type: ignore[arg-type]
    app = create_app(_NoIntake(), Settings(), health=check)
    down = _get(app, "/readyz")
    assert down.status_code == 503 and down.json()["writer"] == "the writer process stopped"
    assert down.json()["database"] != "ok"
    alive = _get(app, "/healthz")
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok", "version": __version__}


def test_every_part_ok_is_200(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'h.db'}")
    intake = Intake(store, Settings(dkim_verify="never"))
    try:
        app = create_app(intake, Settings(), store=store, health=Health(
            {"writer": lambda: None, "analyst": lambda: None}, store))
        answer = _get(app)
    finally:
        intake.close()
        store.close()
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "writer": "ok", "analyst": "ok", "database": "ok",
                             "schema": "ok"}


def test_a_part_down_is_503_naming_it() -> None:
    check = Health({"writer": lambda: "the writer process is starting",
                    "analyst": lambda: None})
    app = create_app(_NoIntake(), Settings(), health=check)
    answer = _get(app)
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "writer": "the writer process is starting",
                             "analyst": "ok"}


def test_a_database_that_fails_is_503_and_its_error_only_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Store(create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}"))
    answer = _get(create_app(_NoIntake(), Settings(), health=Health({}, store)))
    assert answer.status_code == 503
    assert answer.json()["database"] == "SELECT 1 failed (OperationalError; the log says why)"
    (logged,) = [r for r in caplog.records if r.getMessage() == "database check failed"]
    assert "unable to open database file" in logged.fields["error"]  # type: ignore[attr-defined]


def test_a_database_that_hangs_is_503_within_the_time_given(
        monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    class Hanging:
        def read(self, fn: object) -> None:
            release.wait(30)

    monkeypatch.setattr(health, "DATABASE_SECONDS", 0.2)
    check = Health({}, Hanging())  # type: ignore[arg-type]
    app = create_app(_NoIntake(), Settings(), health=check)
    try:
        first, second = _get(app), _get(app)
        checks = [t for t in threading.enumerate() if t.name == "tlsscope-healthz"]
    finally:
        release.set()
    assert first.status_code == second.status_code == 503
    assert first.json()["database"].startswith("no answer to SELECT 1 for 0.")
    assert second.json()["database"].startswith("no answer to SELECT 1 for 0.")
    assert len(checks) == 1  # the second waited on the check still running


def test_readyz_adds_the_queue_and_the_schema(tmp_path: Path) -> None:
    from sqlalchemy import text

    from tlsscope.store.migrate import HEAD

    store = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    full = [False]
    check = Health({"writer": lambda: None}, store,
                   ready={"queue": lambda: "the writer's queue is full (3 inputs waiting)"
                          if full[0] else None})
    app = create_app(_NoIntake(), Settings(), health=check)
    try:
        ready = _get(app, "/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok", "writer": "ok", "queue": "ok", "database": "ok",
                                "schema": "ok"}
        full[0] = True
        busy = _get(app, "/readyz")
        assert busy.status_code == 503 and busy.json()["queue"].startswith("the writer's queue")
        assert _get(app, "/healthz").status_code == 200  # alive: not about the queue
        full[0] = False
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        time.sleep(health.REUSE_SECONDS + 0.1)
        newer = _get(app, "/readyz")
        assert newer.status_code == 503
        assert newer.json()["schema"] == f"at revision 0099, not this tlsscope's {HEAD}"
    finally:
        store.close()


def test_readyz_is_503_while_the_database_is_stopped_and_200_once_back() -> None:
    from tests.support.postgres import PostgresServer
    from tlsscope.store import Pool

    server = PostgresServer()
    try:
        store = Store.open(server.create_database(), pool=Pool(size=2, timeout=2))
        app = create_app(_NoIntake(), Settings(), health=Health({}, store, ready={}))
        assert _get(app, "/readyz").status_code == 200
        server.pause()
        time.sleep(health.REUSE_SECONDS + 0.1)
        down = _get(app, "/readyz")
        assert down.status_code == 503
        assert down.json()["database"].startswith("SELECT 1 failed (OperationalError")
        assert down.json()["schema"] == "unknown: the database does not answer"
        server.resume()
        deadline = time.monotonic() + 30
        while _get(app, "/readyz").status_code != 200:
            assert time.monotonic() < deadline, "not ready again after the database came back"
            time.sleep(health.REUSE_SECONDS)
        store.close()
    finally:
        server.stop()
