"""Never lost, never doubled, across processes: two `tlsscope alerts deliver` at once on one
database (SQLite and PostgreSQL) send each alert once; `serve` killed with -9 while an
attempt is in flight and others wait: after a restart every alert arrives, and only the one
in flight arrives twice, with its id."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection

from tests.support.hooks import receiver
from tests.support.postgres import PostgresServer
from tests.support.served import Served
from tlsscope.alert import log, rules
from tlsscope.app.scope import OPERATOR
from tlsscope.store import Store, alerts_rows

pytestmark = pytest.mark.server
NOW = dt.datetime.now(dt.UTC)


def pending(store: Store, url: str, count: int) -> None:
    made = rules.create(store, OPERATOR, channel="generic", target=url, min_severity="info")

    def write(connection: Connection) -> None:
        for n in range(count):
            data = {"finding_id": n + 1, "domain": f"d{n}.example", "kind": "certificate",
                    "severity": "high", "title": f"alert {n}", "explanation": "x", "fix": []}
            alerts_rows.write_alert(connection, alerts_rows.NewAlert(
                key=f"al_{n:032d}", rule=made.id, event="finding.opened",
                domain=f"d{n}.example", finding=None, problem=f"p{n}", severity="high",
                data=json.dumps(data), suppressed=False, due_at=NOW, batched=False), NOW)

    store.write(write)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresServer | None) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'alerts.db'}"
    if postgres is None:
        pytest.skip("TLSSCOPE_TEST_POSTGRES=skip")
    return postgres.create_database()


def test_two_senders_at_once_deliver_each_alert_once(db: str) -> None:
    with receiver([204]) as hook:
        store = Store.open(db)
        try:
            pending(store, hook.url, 600)
            env = {**os.environ, "TLSSCOPE_ALERTS_ALLOW_PRIVATE": "true"}
            runs = [subprocess.Popen([sys.executable, "-m", "tlsscope", "alerts", "deliver",
                                      "--db", db], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE) for _ in range(2)]
            outputs = [run.communicate(timeout=120) for run in runs]
            assert [run.returncode for run in runs] == [0, 0], outputs
            said = sum(int(out.split()[0]) for out, _ in outputs)
            ids = hook.ids()
            assert said == 600 and len(ids) == 600 and len(set(ids)) == 600
            found = log.deliveries(store, OPERATOR, 1000)
            assert {(d.state, d.attempts) for d in found} == {("delivered", 1)}
        finally:
            store.close()


def test_serve_killed_mid_attempt_loses_nothing_and_repeats_only_that_attempt(
        tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    with receiver([204], delay_first=30) as hook:
        store = Store.open(db)
        pending(store, hook.url, 12)
        env = {"TLSSCOPE_ALERTS_ALLOW_PRIVATE": "true", "TLSSCOPE_ALERTS_LEASE_SECONDS": "3",
               "TLSSCOPE_ALERTS_TIMEOUT": "40", "TLSSCOPE_ALERTS_POLL_SECONDS": "0.2"}
        first = Served(tmp_path, **env)
        try:
            deadline = time.monotonic() + 60
            while sum(d.state == "delivered" for d in log.deliveries(store, OPERATOR)) < 3:
                assert time.monotonic() < deadline, first.log.read_text()
                time.sleep(0.1)
            in_flight = hook.ids()[0]
            waiting = [d for d in log.deliveries(store, OPERATOR) if d.state == "pending"]
            assert len(waiting) == 8  # claimed four at a time: eight not yet claimed
        finally:
            os.killpg(first.process.pid, signal.SIGKILL)
            first.process.wait(10)
        second = Served(tmp_path, **env)
        try:
            deadline = time.monotonic() + 60
            while any(d.state != "delivered" for d in log.deliveries(store, OPERATOR)):
                assert time.monotonic() < deadline, second.log.read_text()
                time.sleep(0.2)
        finally:
            second.stop()
            store.close()
        ids = hook.ids()
    assert sorted(set(ids)) == [f"al_{n:032d}" for n in range(12)]
    assert sorted(ids) == sorted([*set(ids), in_flight])  # only the attempt in flight twice
    again = next(d for d in log.deliveries(store, OPERATOR) if d.alerts[0]["key"] == in_flight)
    assert again.attempts == 2


def test_serve_tells_of_a_finding_its_analyst_opened(tmp_path: Path) -> None:
    """End to end through the processes: reports ingested beside a running serve; its
    analyst process recomputes the findings (writing the change's event), its alert thread
    fans it out and posts it."""
    import datetime as dt

    from tests.support.cli import ingest
    from tests.support.scenarios import Failure

    db = f"sqlite:///{tmp_path / 'serve.db'}"
    with receiver([204]) as hook:
        store = Store.open(db)
        rules.create(store, OPERATOR, channel="generic", target=hook.url)
        served = Served(tmp_path, TLSSCOPE_ALERTS_ALLOW_PRIVATE="true",
                        TLSSCOPE_ALERTS_POLL_SECONDS="0.2")
        try:
            yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
            ingest(tmp_path / "reports", db, "mail.example",
                   (Failure("certificate-expired", 40, "mx1.mail.example"),), yesterday)
            deadline = time.monotonic() + 60
            while not hook.requests:
                assert time.monotonic() < deadline, served.log.read_text()[-3000:]
                time.sleep(0.2)
        finally:
            served.stop()
            store.close()
        body = json.loads(hook.requests[0].body)
    assert body["event"] == "finding.opened"
    assert body["finding"]["domain"] == "mail.example"
    assert body["finding"]["mx_host"] == "mx1.mail.example"
