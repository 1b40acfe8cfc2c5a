"""The store commands, run as real processes against a SQLite file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.server

FIX = Path(__file__).parents[1] / "fixtures"


def run(*args: str, db: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "200", "TZ": "America/New_York"}
    return subprocess.run([sys.executable, "-m", "tlsscope", *args, "--db", f"sqlite:///{db}"],
                          input=stdin, capture_output=True, env=env, timeout=120, check=False)


def as_json(done: subprocess.CompletedProcess[bytes]) -> Any:
    return json.loads(done.stdout)


def test_ingest_summary_and_exit_status(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    first = run("ingest", "--json", str(FIX / "real"), db=db)
    assert first.returncode == 0, first.stderr
    assert as_json(first) | {"rejections": None} == {
        "inputs": 21, "accepted": 21, "duplicate": 0, "rejected": 0, "not_a_report": 0,
        "reports_stored": 21, "reports_repeated": 0, "conflicts": 0, "rejections": None}
    again = as_json(run("ingest", "--json", str(FIX / "real"), db=db))
    assert (again["duplicate"], again["reports_stored"]) == (21, 0)
    bad = run("ingest", "--json", str(FIX / "quirks" / "error-truncated.json.gz"), db=db)
    assert bad.returncode == 1
    assert as_json(bad)["rejections"][0][1][0].startswith("truncated_gzip")
    table = run("ingest", str(FIX / "real"), db=db)
    assert table.returncode == 0 and b"21 duplicate" in table.stdout


def test_maildir_and_stdin(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    shutil.copy(FIX / "real" / "google-tlsrpt-digest-success-1.eml",
                maildir / "new" / "1732800000.M1P1.host")
    shutil.copy(FIX / "real" / "microsoft-tlsrpt-digest-success.eml",
                maildir / "cur" / "1732800001.M2P2.host:2,S")
    db = tmp_path / "t.db"
    assert as_json(run("ingest", "--json", str(maildir), db=db))["accepted"] == 2
    data = (FIX / "quirks" / "report.json.gz").read_bytes()
    assert as_json(run("ingest", "--json", "-", db=db, stdin=data))["accepted"] == 1


def test_reports_show_and_stats(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    run("ingest", str(FIX / "real"), db=db)
    listed = as_json(run("reports", "--json", "--domain", "random.net", db=db))
    assert [r["organization_name"] for r in listed] == ["Microsoft Corporation"]
    key = listed[0]["key"]
    shown = as_json(run("show", key[:8], "--json", db=db))
    assert shown["report"]["report-id"] == "133925885310113267+random.net"
    assert shown["counted"] == [True, False]
    assert shown["provenance"] == {"channel": "file", "peer": "", "authenticated": True,
                                   "reporter_new": True}
    assert run("show", "ffffffffffff", db=db).returncode == 1
    table = run("show", key[:8], db=db)
    assert b"same sessions as another policy" in table.stdout
    assert b"Provenance: file, authenticated; first report" in table.stdout
    stats = as_json(run("stats", "--json", "--domain", "random.net", "--until", "2025-05-31",
                        "--days", "31", db=db))
    assert (stats["reports"], stats["successful"], stats["failed"]) == (1, 2, 0)
    assert run("stats", "--until", "yesterday", db=db).returncode == 2


def test_quarantine_export_and_reingest(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    bad = [FIX / "quirks" / "error-truncated.json.gz", FIX / "quirks" / "mail-with-bad-report.eml"]
    run("ingest", *map(str, bad), db=db)
    held = as_json(run("quarantine", "--json", db=db))
    assert [h["errors"][0]["code"] for h in held] == ["truncated_gzip", "invalid_json"]
    out = tmp_path / "out"
    done = run("quarantine", "export", str(out), db=db)
    assert done.returncode == 0 and b"2 rejected input(s)" in done.stdout
    exported = sorted(out.iterdir())
    assert sorted(p.read_bytes() for p in exported) == sorted(p.read_bytes() for p in bad)
    assert all(p.name.endswith(("error-truncated.json.gz", "mail-with-bad-report.eml"))
               for p in exported)
    again = as_json(run("reingest", "--json", db=db))
    assert again == {"inputs": 2, "reports_added": 0, "verdicts_changed": 0, "still_rejected": 2}


def test_hostile_strings_are_escaped_in_tables(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    run("ingest", str(FIX / "quirks" / "hostile-strings.json"), db=db)
    out = run("reports", db=db).stdout.decode()
    assert "\x1b[31m" not in out and "\\x1b[31mRED" in out


def test_bad_database_url_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tlsscope", "reports", "--db",
                           "nosuchdialect://x"], capture_output=True, timeout=60, check=False)
    assert done.returncode == 2
    assert b"cannot open the database" in done.stderr


def test_mta_pipe_exit_codes(tmp_path: Path) -> None:
    """`tlsscope ingest -` for /etc/aliases or a Postfix pipe: 0 once kept, 75 to retry."""
    mail = (FIX / "real" / "google-tlsrpt-digest-success-1.eml").read_bytes()
    db = tmp_path / "t.db"
    assert run("ingest", "-", db=db, stdin=mail).returncode == 0
    bad = (FIX / "quirks" / "mail-with-bad-report.eml").read_bytes()
    assert run("ingest", "-", db=db, stdin=bad).returncode == 0  # kept in quarantine
    down = subprocess.run([sys.executable, "-m", "tlsscope", "ingest", "-", "--db",
                           "postgresql+psycopg://postgres@127.0.0.1:1/none"], input=mail,
                          capture_output=True, timeout=60, check=False)
    assert down.returncode == 75, down.stderr
    assert b"cannot open the database" in down.stderr


def test_an_empty_window_says_where_the_reports_are(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    empty = run("stats", db=db)
    assert empty.returncode == 0 and b"No report is stored yet" in empty.stderr
    assert run("ingest", str(FIX / "real" / "rfc8460-appendix-example.json"), db=db
               ).returncode == 0
    (stored,) = as_json(run("reports", "--json", db=db))
    domain, day = stored["domains"][0], stored["day"]
    for command in (("stats",), ("stats", "--domain", domain), ("summary", domain)):
        done = run(*command, "--until", "2099-01-01", db=db)
        assert done.returncode == 0, done.stderr
        assert f"the latest report is of {day}: try --until {day}".encode() in done.stderr
    nowhere = run("summary", "nosuch.example", db=db)
    assert b"No report about nosuch.example is stored" in nowhere.stderr


def test_the_quarantine_lists_each_reason_on_its_own_line(tmp_path: Path) -> None:
    import zipfile

    db, two = tmp_path / "t.db", tmp_path / "two-bad.zip"
    with zipfile.ZipFile(two, "w") as zipped:
        zipped.writestr("a.json", b'{"organization-name": 1}')
        zipped.writestr("b.json", b'{"organization-name": 2}')
    run("ingest", str(two), db=db)
    listed = run("quarantine", db=db).stdout.decode()
    assert listed.count("wrong_type") + listed.count("missing_member") >= 2, listed
    assert "\\x0a" not in listed  # joined first, the newline between reasons was escaped
