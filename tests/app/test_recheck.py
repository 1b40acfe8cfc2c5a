"""Re-checks (app/recheck.py): on a schedule and after new failures, against the fake
internet and a real store; then inside a running `tlsscope serve`."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.cli import ingest, tlsscope
from tests.support.clock import Clock
from tests.support.fakenet import environment, settings
from tests.support.scenarios import Day, Failure, report
from tests.support.webserver import free_port, wait_healthy
from tlsscope.app.recheck import Rechecker
from tlsscope.store import Store, checks_rows, findings_rows

pytestmark = pytest.mark.server


def test_schedule_and_failures_decide_what_is_due(nameserver: str, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'tlsscope.db'}"
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    ingest(tmp_path / "a", db, "good.example", (), yesterday)
    ingest(tmp_path / "b", db, "mail.example", (), yesterday)
    clock = Clock()
    with Store.open(db) as store:
        rechecker = Rechecker(store, settings(nameserver), clock)
        assert rechecker.due() == ["good.example", "mail.example"]  # never checked
        for domain in rechecker.due():
            rechecker.check(domain)
        assert rechecker.due() == []
        good = store.read(checks_rows.latest, "good.example")
        assert good is not None and good.status == "ok" and good.checked_at == clock.now

        # A report with failures for good.example arrives; it was checked just now, so the
        # re-check waits for the minimum gap (60 minutes), then goes first.
        ingest(tmp_path / "c", db, "good.example",
               (Failure("certificate-expired", 2, "mx1.good.example", "127.0.0.2"),), yesterday,
               "Microsoft Corporation")
        clock.now += dt.timedelta(minutes=10)
        assert rechecker.due() == []
        clock.now += dt.timedelta(minutes=51)
        assert rechecker.due() == ["good.example"]
        rechecker.check("good.example")
        assert rechecker.due() == []
        assert len(store.read(checks_rows.history, "good.example")) == 2

        # A day later, every domain is due again (the schedule: every 24 hours).
        clock.now += dt.timedelta(hours=24)
        assert rechecker.due() == ["good.example", "mail.example"]

    off = Rechecker(Store.open(db), settings(nameserver, check_every_hours=0,
                                                 check_on_failure=False))
    assert not off.enabled
    off.store.close()


def test_serve_rechecks_a_domain_when_a_failure_arrives(nameserver: str,
                                                        tmp_path: Path) -> None:
    port = free_port()
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {**os.environ, **environment(nameserver), "TLSSCOPE_DKIM_VERIFY": "never",
           "TLSSCOPE_CHECK_EVERY_HOURS": "0", "TLSSCOPE_CHECK_POLL_SECONDS": "0.2"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tlsscope", "serve", "--db", db, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        sent = report("mail.example", Day("Microsoft Corporation", yesterday, 50, (
            Failure("certificate-expired", 6, "expired.mail.example", "127.0.0.5"),)))
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/tlsrpt",
                            content=gzip.compress(json.dumps(sent).encode()),
                            headers={"content-type": "application/tlsrpt+gzip"})
        assert answer.status_code == 201
        with Store.open(db) as store:
            deadline = time.monotonic() + 30
            while (store.read(checks_rows.latest, "mail.example") is None
                   and time.monotonic() < deadline):
                time.sleep(0.2)
            check = store.read(checks_rows.latest, "mail.example")
            assert check is not None and check.status == "error"
            # The writer, once idle, recomputes the findings with the check as evidence.
            deadline = time.monotonic() + 30
            while store.read(findings_rows.stale_domains) and time.monotonic() < deadline:
                time.sleep(0.2)
        done = tlsscope("findings", "--domain", "mail.example", "--json", "--db", db)
        (finding,) = [f for f in json.loads(done.stdout) if f["kind"] == "certificate"]
        assert finding["live"]["verdict"] == "confirmed"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()
    logged = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    rechecked = [line for line in logged if line["message"] == "domain re-checked"]
    assert rechecked and rechecked[0]["domain"] == "mail.example"
    assert rechecked[0]["status"] == "error"


def test_only_owned_domains_are_rechecked_unless_told(nameserver: str, tmp_path: Path) -> None:
    """Reports come from anyone (an anonymous POST): they may not make tlsscope probe any
    domain they name."""
    from tlsscope.app.accounts import assign

    db = f"sqlite:///{tmp_path / 'owned.db'}"
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    ingest(tmp_path / "a", db, "good.example", (), yesterday)
    ingest(tmp_path / "b", db, "mail.example",
           (Failure("certificate-expired", 2, "mx1.mail.example", "127.0.0.2"),), yesterday)
    with Store.open(db) as store:
        gated = Rechecker(store, settings(nameserver, check_unowned=False), Clock())
        assert gated.due() == []  # neither is owned: not even the failing one
        assign(store, "good.example", "Acme")
        assert gated.due() == ["good.example"]
        listed = Rechecker(store, settings(nameserver, check_unowned=False,
                                           accept_domains=["mail.example"]), Clock())
        assert set(listed.due()) == {"mail.example", "good.example"}
        anyone = Rechecker(store, settings(nameserver, check_unowned=True), Clock())
        assert set(anyone.due()) == {"good.example", "mail.example"}
