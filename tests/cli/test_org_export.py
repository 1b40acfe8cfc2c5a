"""`tlsscope orgs export`, `orgs delete`, `orgs retention` and `purge`, run in this process
(typer's runner): an export then a deletion round trip, confirmation by typing the name,
hostile names shown harmless."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.app.test_retention import _arrival, _doc
from tests.support import sqlite
from tlsscope.app import accounts
from tlsscope.cli.main import app
from tlsscope.store import Store

HOSTILE = "Evil\u202e <script>alert(1)</script>"  # control characters are refused at intake


def _store(tmp_path: Path, migrated_sqlite: Path) -> str:
    url = sqlite.copy(migrated_sqlite, tmp_path)
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    with Store.open(url) as store:
        accounts.assign(store, "evil.example", HOSTILE)
        accounts.assign(store, "good.example", "Good")
        store.save([_arrival(_doc("r1", day, "evil.example"), dt.datetime.now(dt.UTC)),
                    _arrival(_doc("r2", day, "good.example"), dt.datetime.now(dt.UTC))])
    return url


def test_export_then_delete_round_trip(tmp_path: Path, migrated_sqlite: Path) -> None:
    db = _store(tmp_path, migrated_sqlite)
    runner = CliRunner()
    out = tmp_path / "export"
    done = runner.invoke(app, ["org", "export", HOSTILE, str(out), "--db", db])
    assert done.exit_code == 0, done.output
    assert "\u202e" not in done.output
    (report,) = [json.loads(line) for line in (out / "reports.jsonl").read_text().splitlines()]
    assert report["policies"][0]["policy"]["policy-domain"] == "evil.example"
    assert json.loads((out / "organisation.json").read_text())["name"] == HOSTILE
    assert len(list((out / "raw").iterdir())) == 1 and (out / "README.txt").exists()
    refused = runner.invoke(app, ["orgs", "delete", HOSTILE, "--db", db], input="Evil\n")
    assert refused.exit_code == 1 and "nothing deleted" in refused.output
    done = runner.invoke(app, ["orgs", "delete", HOSTILE, "--db", db, "--json"],
                         input=HOSTILE + "\n")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output[done.output.index("{"):])["reports"] == 1
    listed = runner.invoke(app, ["orgs", "list", "--json", "--db", db])
    assert [o["organisation"] for o in json.loads(listed.output)] == ["Good"]
    assert runner.invoke(app, ["orgs", "delete", "Nope", "--yes", "--db", db]).exit_code == 1


def test_retention_is_set_per_organisation_and_purged(tmp_path: Path,
                                                      migrated_sqlite: Path) -> None:
    db = _store(tmp_path, migrated_sqlite)
    runner = CliRunner()
    done = runner.invoke(app, ["orgs", "retention", "Good", "--reports-days", "2",
                               "--truncate-ips", "on", "--db", db])
    assert done.exit_code == 0, done.output
    assert "Good\t400\t2*\t400\ton*" in done.output
    shown = runner.invoke(app, ["orgs", "retention", "--db", db])
    assert "\u202e" not in shown.output and "Evil" in shown.output
    dry = runner.invoke(app, ["purge", "--dry-run", "--json", "--db", db])
    assert json.loads(dry.output)["reports"] == 1
    done = runner.invoke(app, ["purge", "--json", "--db", db])
    assert json.loads(done.output)["reports"] == 1
    again = runner.invoke(app, ["purge", "--db", db])
    assert again.exit_code == 0 and "removed: 0 reports" in again.output
    bad = runner.invoke(app, ["orgs", "retention", "Good", "--checks-days", "99999", "--db", db])
    assert bad.exit_code == 2


def test_export_refuses_a_folder_that_is_not_empty(tmp_path: Path, migrated_sqlite: Path) -> None:
    """One export's files never mix with another's, and nothing is written through a link
    planted in the folder."""
    db = _store(tmp_path, migrated_sqlite)
    runner = CliRunner()
    out = tmp_path / "export"
    assert runner.invoke(app, ["org", "export", "Good", str(out), "--db", db]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = runner.invoke(app, ["org", "export", HOSTILE, str(out), "--db", db])
    assert again.exit_code == 2 and str(out) in again.output and "not empty" in again.output
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    trap = tmp_path / "trap"
    trap.mkdir()
    (trap / "README.txt").symlink_to(victim)
    refused = runner.invoke(app, ["org", "export", "Good", str(trap), "--db", db])
    assert refused.exit_code == 2 and victim.read_text() == "keep me"


def test_an_export_file_is_never_written_through_a_link(tmp_path: Path) -> None:
    from tlsscope.app.org_data import Folder

    folder = Folder(tmp_path / "out")
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (tmp_path / "out" / "README.txt").symlink_to(victim)  # planted after the check
    with pytest.raises(OSError):
        with folder.open("README.txt") as out:
            out.write(b"overwritten")
    assert victim.read_text() == "keep me"
