"""The `tlsscope` command, run as a real process (tests marked `server` only: `make test-fast`
starts no process), and what several tests read through it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.scenarios import Day, Failure, write


def tlsscope(*args: str, stdin: bytes | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "200", "TZ": "America/New_York", **(env or {})}
    return subprocess.run([sys.executable, "-m", "tlsscope", *args], input=stdin,
                          capture_output=True, env=env, timeout=120, check=False)


def ingest(folder: Path, db: str, domain: str, failures: tuple[Failure, ...],
           day: dt.date, org: str = "Google Inc.") -> None:
    """One day's report from `org` for `domain`, written to `folder` and `tlsscope ingest`ed."""
    write(folder, domain, [Day(org, day, 100, failures)])
    assert tlsscope("ingest", str(folder), "--db", db).returncode == 0


def findings(db: str, *extra: str) -> list[dict[str, Any]]:
    """mail.example's findings, every status, as `tlsscope findings --json` prints them."""
    done = tlsscope("findings", "--domain", "mail.example", "--status", "all", "--json",
                    "--db", db, *extra)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def by_mx(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The findings about one MX host (certificate, starttls), by that host."""
    return {f["mx_host"]: f for f in found if f["kind"] in ("certificate", "starttls")}
