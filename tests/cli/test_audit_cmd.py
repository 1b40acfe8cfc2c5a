"""`tlsscope audit` as an operator runs it, and every command that changes something
recorded as `cli:<os user>` from `cli`: users, tokens, domains, organisations (rename,
retention, export, deletion) and alert rules; text output with no control sequence."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import tlsscope

pytestmark = pytest.mark.server

HOSTILE = "Evil\x1b[2J\x07Org"


def _run(*args: str, stdin: bytes | None = None) -> bytes:
    done = tlsscope(*args, stdin=stdin)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def _audit(db: str, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(_run("audit", "--json", "--db", db, *args))
    return found


def test_every_command_s_change_is_recorded_and_listed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    _run("users", "add", "ana@acme.example", "--organisation", HOSTILE, "--password-stdin",
         "--db", db, stdin=b"a-long-password\n")
    _run("users", "password", "ana@acme.example", "--password-stdin", "--db", db,
         stdin=b"another-long-password\n")
    token = _run("users", "token", "ana@acme.example", "--name", "ci", "--db", db).strip()
    _run("users", "revoke", "1", "--db", db)
    _run("users", "disable", "ana@acme.example", "--db", db)
    _run("domains", "assign", "shop.example", "--organisation", HOSTILE, "--db", db)
    _run("orgs", "rename", HOSTILE, "Acme", "--db", db)
    _run("orgs", "retention", "Acme", "--reports-days", "30", "--db", db)
    rule = _run("alerts", "add", "--email", "ops@elsewhere.example", "--db", db).split()[0]
    _run("alerts", "remove", rule.decode(), "--db", db)
    _run("orgs", "export", "Acme", str(tmp_path / "out"), "--db", db)
    _run("users", "delete", "ana@acme.example", "--db", db)
    _run("orgs", "delete", "Acme", "--yes", "--db", db)
    listed = list(reversed(_audit(db)))
    assert [e["action"] for e in listed] == [
        "organisation.created", "user.created", "user.changed", "token.created",
        "token.revoked", "user.changed", "domain.added", "organisation.renamed",
        "retention.changed", "alert_rule.created", "alert_rule.removed",
        "organisation.exported", "user.removed", "organisation.deleted"]
    who = f"cli:{getpass.getuser()}"
    assert {(e["actor"], e["actor_id"], e["address"]) for e in listed} == {(who, None, "cli")}
    assert listed[0]["target"] == HOSTILE  # stored as given; shown made visible
    assert listed[8]["detail"] == {"organisation_id": 1, "keep_reports_days": 30}
    raw = json.dumps(listed)
    assert token.decode() not in raw and "another-long-password" not in raw
    assert "ops@elsewhere.example" not in raw  # a rule's target is never recorded

    text = _run("audit", "--db", db, "--limit", "3").decode()
    lines = text.splitlines()
    assert len(lines) == 3 and lines[0].split("\t")[4] == "organisation.deleted"
    assert lines[0].split("\t")[2:4] == [who, "cli"]
    everything = _run("audit", "--db", db).decode()
    assert "\x1b" not in everything and "\x07" not in everything and "Evil" in everything
    assert [e["action"] for e in _audit(db, "--action", "token")] == [
        "token.revoked", "token.created"]
    assert _audit(db, "--since", "2999-01-01") == []
    assert len(_audit(db, "--since", "2000-01-01T00:00:00")) == len(listed)
    assert [e["id"] for e in _audit(db, "--before", str(listed[1]["id"]))] == [listed[0]["id"]]
    bad = tlsscope("audit", "--since", "yesterday", "--db", db)
    assert bad.returncode == 2 and b"--since" in bad.stderr
