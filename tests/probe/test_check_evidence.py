"""Stored checks as evidence: reports say mail.example's MX hosts failed; a live check on the
fake internet confirms some failures and contradicts others, and the findings say so."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.support.cli import by_mx, findings, tlsscope
from tests.support.fakenet import options
from tests.support.scenarios import Day, Failure, write

pytestmark = pytest.mark.server


def test_a_check_confirms_and_contradicts_reported_failures(nameserver: str,
                                                            tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'tlsscope.db'}"
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    days = [Day("Google Inc.", yesterday - dt.timedelta(days=n), 500, (
        Failure("certificate-expired", 7, "expired.mail.example", "127.0.0.5"),
        Failure("certificate-expired", 3, "good.mail.example", "127.0.0.3"),
        Failure("starttls-not-supported", 4, "plain.mail.example", "127.0.0.4"),
    )) for n in range(3)]
    write(tmp_path / "in", "mail.example", days)
    assert tlsscope("ingest", str(tmp_path / "in"), "--db", db).returncode == 0
    before = by_mx(findings(db))
    assert all(f["live"] is None and f["status"] == "open" for f in before.values())

    done = tlsscope("check", "mail.example", *options(nameserver, save=True), "--db", db,
                    "--json")
    assert done.returncode == 1  # errors on several MX hosts
    first = json.loads(done.stdout)
    assert first["mx_hosts"][:2] == ["expired.mail.example", "good.mail.example"]

    after = by_mx(findings(db))
    expired, good, plain = (after[f"{n}.mail.example"] for n in ("expired", "good", "plain"))
    assert expired["live"]["verdict"] == "confirmed" and expired["status"] == "open"
    assert expired["live"]["targets"] == ["expired.mail.example [127.0.0.5]"]
    assert "(certificate-expired)" in expired["live"]["details"][0]
    assert plain["live"]["verdict"] == "confirmed"
    assert good["live"]["verdict"] == "contradicted" and good["status"] == "likely-fixed"
    assert "probably fixed since, or it was transient" in good["live"]["summary"]

    # The status change is kept in the history; the default filter still lists it.
    assert [h["status"] for h in good["history"]] == ["open", "likely-fixed"]
    listed = tlsscope("findings", "--domain", "mail.example", "--db", db)
    assert b"likely-fixed" in listed.stdout and b"works now" in listed.stdout
    pt = by_mx(findings(db, "--lang", "pt"))
    assert pt["good.mail.example"]["live"]["summary"].startswith("Verificação ao vivo")

    # A second check compares with the first: nothing drifted, so no change steps.
    again = tlsscope("check", "mail.example", *options(nameserver, save=True), "--db", db,
                     "--json")
    steps = {s["step"] for s in json.loads(again.stdout)["steps"]}
    assert "mx-drift" not in steps and "mta-sts-policy-id" not in steps
