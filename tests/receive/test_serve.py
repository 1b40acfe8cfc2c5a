"""`tlsscope serve` as a real process: HTTP and SMTP in, JSON logs out, clean SIGTERM."""

from __future__ import annotations

import gzip
import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import reads
from tests.support.webserver import free_port, wait_healthy
from tlsscope.store import Store, findings_rows

pytestmark = pytest.mark.server

FIX = Path(__file__).parents[1] / "fixtures"


def test_serve_receives_over_http_and_smtp_and_stops_cleanly(tmp_path: Path) -> None:
    http_port, smtp_port = free_port(), free_port()
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    lmtp = str(tmp_path / "lmtp.sock")
    process = subprocess.Popen(
        [sys.executable, "-m", "tlsscope", "serve", "--db", db,
         "--listen", f"127.0.0.1:{http_port}", "--smtp", f"127.0.0.1:{smtp_port}",
         "--lmtp", lmtp, "--rua-address", "tls@example.com"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "TLSSCOPE_DKIM_VERIFY": "never",
             "TLSSCOPE_CHECK_EVERY_HOURS": "0", "TLSSCOPE_CHECK_ON_FAILURE": "false"})
    try:
        wait_healthy(f"http://127.0.0.1:{http_port}", process)
        body = gzip.compress((FIX / "quirks" / "pretty-sorted.json").read_bytes())
        answer = httpx.post(f"http://127.0.0.1:{http_port}/v1/tlsrpt", content=body,
                            headers={"content-type": "application/tlsrpt+gzip"})
        assert answer.status_code == 201
        message = (FIX / "real" / "microsoft-tlsrpt-digest-success.eml").read_bytes()
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
            assert client.sendmail("noreply@microsoft.com", ["tls@example.com"],
                                   message.replace(b"\n", b"\r\n")) == {}
        google = (FIX / "real" / "google-tlsrpt-digest-success-1.eml").read_bytes()
        with smtplib.LMTP(lmtp, timeout=30) as client:  # over the unix socket, as from Postfix
            assert client.sendmail("noreply@google.com", ["tls@example.com"],
                                   google.replace(b"\n", b"\r\n")) == {}
        # Meanwhile the analyst process recomputes the findings of the domains stored.
        with Store.open(db) as store:
            deadline = time.monotonic() + 30
            while store.read(findings_rows.stale_domains) and time.monotonic() < deadline:
                time.sleep(0.2)
            # Only the analyst recomputes in this test.
            assert store.read(findings_rows.stale_domains) == []
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    stored = [line for line in lines if line["message"] == "input stored"]
    assert [line["outcome"] for line in stored] == ["accepted", "accepted", "accepted"]
    assert {line["message"] for line in lines} >= {"serving", "stopped"}
    recomputed = {line["domain"] for line in lines if line["message"] == "findings recomputed"}
    assert recomputed  # by the analyst process, not the writer
    (admin,) = [line for line in lines if line["message"].startswith("first run: an admin")]
    assert admin["email"] == "admin@localhost" and len(admin["password"]) >= 12
    with Store.open(db) as store:
        assert len(reads.reports(store)) == 3


def test_serve_needs_a_report_address_for_smtp(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tlsscope", "serve", "--db",
                           f"sqlite:///{tmp_path / 'x.db'}", "--smtp", "127.0.0.1:2525"],
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 2 and b"--rua-address" in done.stderr
