"""Migration 0018 and what /metrics reads (store/metrics_rows.py), on SQLite and PostgreSQL: the
reporters' last days and the latest checks' certificates, filled by the migration from what
was stored before it as the writer, the analyst and the checks keep them after."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic import command
from alembic.config import Config

from tests.support.ingest import ingest_paths
from tests.support.scenarios import Day, write
from tlsscope.app import checks, freshness
from tlsscope.live_check import LiveCheck, Step
from tlsscope.store import Store, metrics_rows, migrate


def _downgrade(store: Store, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    with store.engine.connect().execution_options(tlsscope_write=True) as connection:
        with connection.begin():
            config.attributes["connection"] = connection
            command.downgrade(config, revision)


def _check(at: dt.datetime, status: str, expires: dt.datetime) -> LiveCheck:
    return LiveCheck(domain="a.example", checked_at=at, status=status, seconds=1.0, steps=[
        Step(step="mx", target="mx1.a.example [192.0.2.1]", status=status, line="x",
             host="mx1.a.example", expires=expires.isoformat()),
        Step(step="mta-sts-policy", target="https://mta-sts.a.example/.well-known/"
             "mta-sts.txt via 192.0.2.9", status="ok", line="x", expires=expires.isoformat())])


def test_migration_0018_fills_last_days_and_certificates(db_url: str, tmp_path: Path) -> None:
    start = dt.date(2026, 11, 1)
    paths = write(tmp_path / "g", "a.example", [Day("Google Inc.", start + dt.timedelta(days=n),
                                                    10) for n in range(5)])
    paths += write(tmp_path / "m", "a.example", [Day("Mail.ru", start, 3)])
    now = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    with Store.open(db_url) as store:
        ingest_paths(store, paths)
        freshness.rollups_now(store)
        checks.keep(store, _check(now - dt.timedelta(days=2), "ok", now + dt.timedelta(days=90)))
        checks.keep(store, _check(now - dt.timedelta(days=1), "warning",
                                  now + dt.timedelta(days=9)))
        checks.keep(store, _check(now, "inconclusive", now + dt.timedelta(days=1)))
        reporters = store.read(metrics_rows.reporters)
        certificates = store.read(metrics_rows.certificates)
        assert reporters == {("a.example", "Google Inc."): (start, start + dt.timedelta(days=4)),
                             ("a.example", "Mail.ru"): (start, start)}
        expires = (now + dt.timedelta(days=9)).timestamp()
        assert sorted(certificates) == [
            ("a.example", "mta-sts-policy", "mta-sts.a.example", "192.0.2.9", expires),
            ("a.example", "mx", "mx1.a.example", "192.0.2.1", expires)]
        _downgrade(store, "0017")
    with Store.open(db_url) as migrated:  # upgraded again, from the stored rows
        assert migrated.read(metrics_rows.reporters) == reporters
        assert sorted(migrated.read(metrics_rows.certificates)) == sorted(certificates)
