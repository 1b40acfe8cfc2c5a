"""The audit log (app/audit.py, store/audit_rows.py) on SQLite and PostgreSQL: every action
leaves one entry with who, from where and what, in the action's own transaction (a refused
action leaves none); hostile strings are stored clean and bounded; no secret is recorded;
each entry is also one `tlsscope.audit` log line; only admins may list it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import sqlite
from tests.support.postgres import PostgresServer
from tlsscope.alert import rules
from tlsscope.app import accounts, audit, exports, org_data, retention
from tlsscope.app.audit import Actor
from tlsscope.app.scope import OPERATOR, Scope
from tlsscope.errors import Invalid, NotFound
from tlsscope.store import Store
from tlsscope.store.audit_rows import AuditEntry

ADMIN = Actor("root@ops.example", 7, "198.51.100.7")
PASSWORD = "a-long-secret-password"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path,
          postgres: PostgresServer | None) -> Iterator[Store]:
    if request.param == "sqlite":
        url = sqlite.copy(migrated_sqlite, tmp_path)
    elif postgres is None:
        pytest.skip("TLSSCOPE_TEST_POSTGRES=skip")
    else:
        url = postgres.create_database()
    with Store.open(url) as opened:
        yield opened


def _log(store: Store, **filters: Any) -> list[AuditEntry]:
    return list(reversed(audit.entries(store, OPERATOR, 1000, **filters)))


def _actions(store: Store) -> list[tuple[str, str]]:
    return [(e.action, e.target) for e in _log(store)]


def test_every_account_action_is_recorded_with_who_and_where(store: Store,
                                                            tmp_path: Path) -> None:
    with audit.acting(ADMIN):
        accounts.add_user(store, "Ana@Acme.example", PASSWORD, "member", "Acme")
        accounts.set_password(store, "ana@acme.example", PASSWORD + "-2")
        ana = accounts.user(store, "ana@acme.example")
        accounts.set_role(store, ana, "readonly", "Beta")
        accounts.set_disabled(store, ana, True)
        accounts.set_disabled(store, ana, False)
        token = accounts.new_token(store, ana, "ci", "read", 30)
        token_id = accounts.tokens(store, ana)[0].id
        accounts.revoke(store, None, token_id)
        accounts.assign(store, "Shop.Example.", "Acme")
        accounts.assign(store, "shop.example", "Beta")
        accounts.assign(store, "shop.example", "")
        beta = accounts.existing_organisation(store, "Beta")
        accounts.rename_organisation(store, beta, "Beta Health")
        accounts.merge_organisations(store, accounts.existing_organisation(store, "Acme"),
                                     beta)
        accounts.delete_user(store, accounts.user(store, "ana@acme.example"))
    assert _actions(store) == [
        ("organisation.created", "Acme"), ("user.created", "ana@acme.example"),
        ("user.changed", "ana@acme.example"), ("organisation.created", "Beta"),
        ("user.changed", "ana@acme.example"), ("user.changed", "ana@acme.example"),
        ("user.changed", "ana@acme.example"), ("token.created", "ci"),
        ("token.revoked", "ci"), ("domain.added", "shop.example"),
        ("domain.assigned", "shop.example"), ("domain.unassigned", "shop.example"),
        ("organisation.renamed", "Beta Health"), ("organisation.merged", "Beta Health"),
        ("user.removed", "ana@acme.example")]
    entries = _log(store)
    assert {(e.actor, e.actor_id, e.address) for e in entries} == {
        ("root@ops.example", 7, "198.51.100.7")}
    by = {e.action: e for e in entries}
    assert by["user.created"].detail == {"role": "member", "organisation": "Acme",
                                         "user_id": ana.id}
    role = entries[4].detail
    assert role["role"] == "readonly" and role["was_role"] == "member"
    assert role["organisation"] == "Beta" and role["was_organisation"] == "Acme"
    assert entries[5].detail == {"changed": ["disabled"], "disabled": True}
    assert by["token.created"].detail["scope"] == "read"
    assert by["token.revoked"].detail["token_id"] == token_id
    assert by["organisation.renamed"].detail["was"] == "Beta"
    assert by["organisation.merged"].detail["merged"] == "Acme"
    assert entries[10].detail == {"organisation": "Beta", "was": "Acme"}
    every = repr([(e.target, e.detail) for e in entries])
    assert PASSWORD not in every and token not in every and accounts.digest(token) not in every


def test_logins_logouts_and_failures(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    accounts.add_user(store, "bo@acme.example", PASSWORD, "admin", "")
    web = Actor("(no email)", None, "203.0.113.5")
    hostile = "\x1b[31mevil\x00\ud800<script>" + "x" * 100_000
    with audit.acting(web), caplog.at_level(logging.INFO, logger="tlsscope.audit"):
        assert accounts.check_password(store, "bo@acme.example", "wrong-password!") is None
        assert accounts.check_password(store, hostile, "wrong-password!") is None
        who = accounts.check_password(store, "bo@acme.example", PASSWORD)
        assert who is not None
        cookie = accounts.start_session(store, who)
        with audit.acting(audit.user_actor(who, "203.0.113.5")):
            accounts.end_session(store, cookie)
    entries = _log(store)[1:]  # after the user's creation, by `system`
    assert [(e.action, e.actor, e.actor_id, e.address) for e in entries] == [
        ("login.failed", "bo@acme.example", None, "203.0.113.5"),
        ("login.failed", entries[1].actor, None, "203.0.113.5"),
        ("login.succeeded", "bo@acme.example", who.id, "203.0.113.5"),
        ("logout", "bo@acme.example", who.id, "203.0.113.5")]
    assert entries[0].detail == {"known_user": True}
    assert entries[1].detail == {"known_user": False}
    for text, most in ((entries[1].actor, audit.ACTOR_CHARS), (entries[1].target,
                                                               audit.TARGET_CHARS)):
        assert "\x00" not in text and "\ud800" not in text and text.startswith("\x1b[31mevil")
        assert len(text) < most + 40 and text.endswith(f"({len(hostile):,} characters)")
    assert "wrong-password!" not in repr(entries) and PASSWORD not in repr(entries)
    lines = [r for r in caplog.records if r.name == "tlsscope.audit"]
    assert [r.fields["action"] for r in lines] == [  # type: ignore[attr-defined]
        "login.failed", "login.failed", "login.succeeded", "logout"]
    fields: dict[str, Any] = lines[2].fields  # type: ignore[attr-defined]
    assert fields["actor"] == "bo@acme.example" and fields["address"] == "203.0.113.5"
    assert fields["audit_id"] == entries[2].id and fields["target"] == "bo@acme.example"
    assert "wrong-password!" not in repr([r.__dict__ for r in lines])
    assert "" == audit.current().address  # the block's actor is gone: `system` again
    assert audit.current() == audit.SYSTEM


def test_a_refused_action_leaves_no_entry(store: Store) -> None:
    accounts.add_user(store, "cy@acme.example", PASSWORD, "member", "Acme")
    before = _actions(store)
    with pytest.raises(Invalid):
        accounts.add_user(store, "CY@acme.example", PASSWORD, "member", "Acme")
    with pytest.raises(NotFound):
        accounts.revoke(store, None, 999)
    cy = accounts.user(store, "cy@acme.example")
    accounts.new_token(store, cy, "mine")
    other = accounts.add_user(store, "dee@acme.example", PASSWORD, "member", "Acme")
    del other
    dee = accounts.user(store, "dee@acme.example")
    with pytest.raises(NotFound):  # not dee's token: nothing revoked, nothing recorded
        accounts.revoke(store, dee, accounts.tokens(store, cy)[0].id)
    assert [a for a, _ in _actions(store)[len(before):]] == ["token.created", "user.created"]


def test_rules_exports_retention_and_an_organisations_export_and_deletion(
        store: Store, tmp_path: Path) -> None:
    accounts.assign(store, "gone.example", "Gone")
    org = accounts.existing_organisation(store, "Gone")
    start = len(_log(store))
    with audit.acting(ADMIN):
        made = rules.create(store, OPERATOR, channel="generic",
                            target="https://hooks.example/secret-path", organisation="Gone")
        rules.remove(store, OPERATOR, made.id)
        exports.rows(store, OPERATOR, "reports", None, "", "", dt.date(2026, 1, 1), None, "csv")
        retention.set_limits(store, org, {"keep_reports_days": 30,
                                          "truncate_sending_ips": True})
        org_data.export_to_folder(store, OPERATOR, "Gone", tmp_path / "out")
        org_data.delete(store, OPERATOR, "Gone")
    entries = _log(store)[start:]
    assert [(e.action, e.target) for e in entries] == [
        ("alert_rule.created", f"rule {made.id}"), ("alert_rule.removed", f"rule {made.id}"),
        ("export", "reports"), ("retention.changed", "Gone"),
        ("organisation.exported", "Gone"), ("organisation.deleted", "Gone")]
    assert all(e.actor == ADMIN.name and e.address == ADMIN.address for e in entries)
    assert entries[0].detail["channel"] == "generic"
    assert entries[2].detail == {"format": "csv", "domain": None, "reporter": "",
                                 "result_type": "", "since": "2026-01-01", "until": None,
                                 "rows": 0}
    assert entries[3].detail == {"organisation_id": org, "keep_reports_days": 30,
                                 "truncate_sending_ips": True}
    assert entries[4].detail["into"] == str(tmp_path / "out")
    assert entries[4].detail["domains"] == 1
    assert entries[5].detail["domain_names"] == ["gone.example"]
    shown = repr(entries)
    assert "secret-path" not in shown and made.secret not in shown and "whsec_" not in shown


def test_listing_filters_pages_and_is_for_admins_only(store: Store) -> None:
    with audit.acting(audit.cli_actor()):
        for n in range(5):
            accounts.assign(store, f"d{n}.example", f"Org {n}")
        assert accounts.check_password(store, "nobody@x.example", "whatever-it-is") is None
    everything = audit.entries(store, OPERATOR, 100)
    assert [e.id for e in everything] == sorted((e.id for e in everything), reverse=True)
    assert everything[0].action == "login.failed"
    assert all(e.actor.startswith("cli:") and e.address == "cli" for e in everything[1:])
    assert len(audit.entries(store, OPERATOR, 3)) == 3
    assert {e.action for e in audit.entries(store, OPERATOR, action="domain")} == {
        "domain.added"}
    assert [e.action for e in audit.entries(store, OPERATOR, action="login")] == [
        "login.failed"]
    assert audit.entries(store, OPERATOR, action="login.%") == []  # a wildcard is a character
    assert audit.entries(store, OPERATOR, action="logi") == []
    older = audit.entries(store, OPERATOR, 100, before=everything[2].id)
    assert [e.id for e in older] == [e.id for e in everything[3:]]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert audit.entries(store, OPERATOR, since=future) == []
    assert len(audit.entries(store, OPERATOR, since=future.replace(tzinfo=None)
                             - dt.timedelta(hours=2))) == len(everything)
    accounts.add_user(store, "mo@acme.example", PASSWORD, "member", "Org 1")
    member = accounts.user(store, "mo@acme.example")
    with pytest.raises(NotFound):
        audit.entries(store, Scope(member, ["d1.example"]))


def test_a_purge_someone_ran_or_one_that_removed_something_is_recorded(store: Store) -> None:
    from tlsscope.settings import Settings

    now = dt.datetime.now(dt.UTC)
    retention.run_recorded(store, Settings(), now)  # the daily job, nothing to remove
    assert _log(store) == []
    with audit.acting(audit.cli_actor()):  # `tlsscope purge`
        retention.run_recorded(store, Settings(), now, holder="node-1")
    [entry] = _log(store)
    assert (entry.action, entry.target, entry.address) == ("retention.purged", "purge", "cli")
    assert entry.detail["node"] == "node-1" and entry.detail["reports"] == 0
