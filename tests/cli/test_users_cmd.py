"""`tlsscope users`, `tlsscope domains` and `tlsscope demo` as a user runs them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.support.cli import tlsscope
from tlsscope.app.accounts import check_password, digest
from tlsscope.store import Store, accounts, findings_rows

pytestmark = pytest.mark.server


def test_users_and_domains(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    added = tlsscope("users", "add", "Ana@Acme.example", "--organisation", "Acme",
                     "--password-stdin", "--db", db, stdin=b"a-long-password\n")
    assert added.returncode == 0, added.stderr
    again = tlsscope("users", "add", "ana@acme.example", "--organisation", "Acme",
                     "--password-stdin", "--db", db, stdin=b"a-long-password\n")
    assert again.returncode == 1 and b"exists already" in again.stderr
    short = tlsscope("users", "add", "bo@acme.example", "--organisation", "Acme",
                     "--password-stdin", "--db", db, stdin=b"short\n")
    assert short.returncode == 1 and b"at least 10 characters" in short.stderr
    lonely = tlsscope("users", "add", "cy@acme.example", "--password-stdin", "--db", db,
                      stdin=b"a-long-password\n")
    assert lonely.returncode == 1 and b"organisation" in lonely.stderr
    listed = json.loads(tlsscope("users", "list", "--json", "--db", db).stdout)
    assert listed == [{"email": "ana@acme.example", "role": "member", "organisation": "Acme",
                       "lang": "", "disabled": False}]
    changed = tlsscope("users", "password", "ana@acme.example", "--password-stdin", "--db", db,
                       stdin=b"another-long-one\n")
    assert changed.returncode == 0
    token = tlsscope("users", "token", "ana@acme.example", "--db", db).stdout.decode().strip()
    assert token.startswith("tls_")
    assert tlsscope("domains", "assign", "Shop.Example.", "--organisation", "Acme",
                    "--db", db).returncode == 0
    assert json.loads(tlsscope("domains", "list", "--json", "--db", db).stdout) == [
        {"domain": "shop.example", "organisation": "Acme"}]
    with Store.open(db) as store:
        assert check_password(store, "ana@acme.example", "another-long-one") is not None
        assert check_password(store, "ana@acme.example", "a-long-password") is None
        found = store.read(accounts.token_user, digest(token), dt.datetime.now(dt.UTC))
        assert found is not None and found[2]  # never used yet
        assert store.read(accounts.visible_domains, found[0]) == ["shop.example"]


def test_demo_loads_once_and_says_how_to_log_in(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    first = tlsscope("demo", "--db", db)
    assert first.returncode == 0, first.stderr
    out = first.stdout.decode()
    assert "reports stored, 1 input(s) in quarantine" in out
    assert "admin@demo.example / tlsscope-admin" in out
    second = tlsscope("demo", "--db", db)
    assert b"reports stored" not in second.stdout  # nothing loaded twice
    with Store.open(db) as store:
        owners = {d.name: d.organisation_name for d in store.read(accounts.all_domains)}
        assert owners == {"clinic.example": "Beta Health", "legacy.example": "",
                          "news.example": "Acme Retail", "shop.example": "Acme Retail"}
        kinds = {json.loads(data)["kind"] for domain in owners
                 for _, _, _, data, _ in store.read(findings_rows.stored, domain)}
        assert {"certificate", "dane", "mta-sts-policy", "mx-outside-policy", "starttls",
                "no-policy", "ready-for-enforce", "reporter-silent", "new-reporter",
                "failure-spike", "testing-would-block"} <= kinds


def test_disable_delete_role_move_tokens_and_organisations(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'u.db'}"

    def run(*args: str, stdin: bytes = b"") -> tuple[int, str, str]:
        done = tlsscope(*args, "--db", db, stdin=stdin)
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    for email, org in (("ana@acme.example", "Acme"), ("bo@beta.example", "Beta")):
        assert run("users", "add", email, "--organisation", org, "--password-stdin",
                   stdin=b"a-long-password\n")[0] == 0
    code, token, _ = run("users", "token", "ana@acme.example", "--scope", "write",
                         "--expires-days", "30")
    assert code == 0
    assert run("users", "token", "ana@acme.example", "--scope", "root")[0] == 1
    listed = json.loads(run("users", "tokens", "ana@acme.example", "--json")[1])
    assert [(t["name"], t["scope"]) for t in listed] == [("cli", "write")]
    assert listed[0]["expires_at"] is not None
    assert run("users", "revoke", str(listed[0]["id"]))[0] == 0
    assert run("users", "revoke", str(listed[0]["id"]))[0] == 1
    with Store.open(db) as store:
        assert store.read(accounts.token_user, digest(token.strip()),
                          dt.datetime.now(dt.UTC)) is None
    run("users", "token", "ana@acme.example")
    assert run("users", "disable", "ana@acme.example")[0] == 0
    with Store.open(db) as store:
        assert check_password(store, "ana@acme.example", "a-long-password") is None
        assert store.read(accounts.tokens, None) == []  # a disable ends the tokens
    assert run("users", "enable", "ana@acme.example")[0] == 0
    assert run("users", "role", "ana@acme.example", "readonly")[0] == 0
    assert run("users", "role", "ana@acme.example", "member", "--organisation", "")[0] == 1
    assert run("users", "move", "ana@acme.example", "Beta")[0] == 0
    users = {u["email"]: u for u in json.loads(run("users", "list", "--json")[1])}
    assert users["ana@acme.example"]["role"] == "readonly"
    assert users["ana@acme.example"]["organisation"] == "Beta"
    assert run("domains", "assign", "shop.example", "--organisation", "Acme")[0] == 0
    assert run("orgs", "rename", "Acme", "Beta")[0] == 1  # taken
    assert run("orgs", "rename", "Acme", "Acme Retail")[0] == 0
    assert run("orgs", "merge", "Beta", "Acme Retail")[0] == 0
    assert run("orgs", "merge", "Nope", "Acme Retail")[0] == 1
    assert json.loads(run("orgs", "list", "--json")[1]) == [
        {"organisation": "Acme Retail", "domains": 1, "users": 2}]
    assert run("users", "delete", "bo@beta.example")[0] == 0
    assert run("users", "delete", "bo@beta.example")[0] == 1
    with Store.open(db) as store:
        assert check_password(store, "ana@acme.example", "a-long-password") is not None
