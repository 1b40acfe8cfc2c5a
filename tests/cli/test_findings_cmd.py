"""`tlsscope findings`, run as a real process: the JSON contract, the status filter, the
stored findings and their history, in the user's language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import tlsscope
from tests.support.ingest import ingest_paths
from tests.support.scenarios import write
from tests.support.stories import DOMAIN, expiring_mx2
from tlsscope.store import Store

pytestmark = pytest.mark.server


def test_findings_command_contract(store: Store, tmp_path: Path) -> None:
    ingest_paths(store, write(tmp_path / "r", DOMAIN, expiring_mx2()))
    url = str(store.engine.url)
    done = tlsscope("findings", "--until", "2026-02-28", "--status", "all", "--json",
                    "--db", url)
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)
    assert {"kind", "severity", "domain", "mx_host", "result_type", "reporters", "first_seen",
            "last_seen", "sessions", "status", "title", "explanation", "fix",
            "evidence"} <= set(entry)
    assert (entry["domain"], entry["status"], entry["first_seen"]) == (
        "example.com", "resolved", "2026-02-08")
    assert entry["evidence"][0]["report_key"]
    open_only = json.loads(tlsscope("findings", "--until", "2026-02-28", "--json",
                                    "--db", url).stdout)
    assert open_only == []
    text = tlsscope("findings", "--until", "2026-02-12", "--db", url).stdout.decode()
    assert "CRITICAL [open] mx2.example.com" in text


def test_findings_command_reads_the_stored_findings(store: Store, tmp_path: Path) -> None:
    ingest_paths(store, write(tmp_path / "r", DOMAIN, expiring_mx2()))
    url = str(store.engine.url)
    done = tlsscope("findings", "--status", "all", "--json", "--db", url)
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)
    assert (entry["kind"], entry["status"]) == ("certificate", "resolved")
    assert [h["status"] for h in entry["history"]] == ["resolved"]
    in_pt = json.loads(tlsscope("findings", "--status", "all", "--json", "--lang", "pt",
                                "--db", url).stdout)
    assert in_pt[0]["title"] == "mx2.example.com: O certificado do seu servidor de e-mail expirou"
    assert json.loads(tlsscope("findings", "--json", "--db", url).stdout) == []
