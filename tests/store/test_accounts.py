"""Account rows on SQLite and PostgreSQL: what ends a session or token, token scopes and
expiry, disabling, deleting, roles, and organisations renamed and merged."""

from __future__ import annotations

import datetime as dt

import pytest

from tlsscope.store import Store, accounts

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def _user(store: Store, email: str, org: str = "Acme") -> accounts.User:
    org_id = store.write(accounts.organisation, org)
    store.write(accounts.add_user, email, email, "hash", "member", org_id, "", NOW)
    found = store.read(accounts.find_user, email)
    assert found is not None
    return found


def _live(store: Store, user: accounts.User, name: str) -> bool:
    return (store.read(accounts.session_user, f"s-{name}", NOW) is not None,
            store.read(accounts.token_user, f"t-{name}", NOW) is not None) == (True, True)


def _sign_in(store: Store, user: accounts.User, name: str) -> None:
    store.write(accounts.add_session, f"s-{name}", user.id, "csrf", NOW,
                NOW + dt.timedelta(days=1))
    store.write(accounts.add_token, user.id, name, f"t-{name}", NOW, "write")


def test_password_disable_and_delete_end_sessions_and_tokens(store: Store) -> None:
    ana = _user(store, "ana@acme.example")
    _sign_in(store, ana, "one")
    assert _live(store, ana, "one")
    store.write(accounts.set_password, ana.id, "new-hash")
    assert store.read(accounts.session_user, "s-one", NOW) is None
    assert store.read(accounts.token_user, "t-one", NOW) is None
    _sign_in(store, ana, "two")
    store.write(accounts.set_disabled, ana.id, True)
    assert store.read(accounts.token_user, "t-two", NOW) is None
    assert store.read(accounts.login_row, ana.email) is None
    found = store.read(accounts.find_user, ana.email)
    assert found is not None and found.disabled
    store.write(accounts.set_disabled, ana.id, False)
    assert store.read(accounts.login_row, ana.email) is not None
    _sign_in(store, ana, "three")
    store.write(accounts.delete_user, ana.id)
    assert store.read(accounts.find_user, ana.email) is None
    assert store.read(accounts.tokens, None) == []


def test_token_scope_expiry_and_revoking(store: Store) -> None:
    ana, bo = _user(store, "ana@acme.example"), _user(store, "bo@beta.example", "Beta")
    store.write(accounts.add_token, ana.id, "plain", "t-plain", NOW)
    store.write(accounts.add_token, bo.id, "soon", "t-soon", NOW, "admin",
                NOW + dt.timedelta(days=1))
    with pytest.raises(ValueError, match="scope"):
        store.write(accounts.add_token, ana.id, "x", "t-x", NOW, "root")
    found = store.read(accounts.token_user, "t-plain", NOW)
    assert found is not None and found[3] == "read"
    assert store.read(accounts.token_user, "t-soon", NOW + dt.timedelta(hours=23))
    assert store.read(accounts.token_user, "t-soon", NOW + dt.timedelta(days=1)) is None
    listed = store.read(accounts.tokens, None)
    assert [(t.email, t.scope) for t in listed] == [("ana@acme.example", "read"),
                                                    ("bo@beta.example", "admin")]
    assert not store.write(accounts.drop_token, ana.id, listed[1].id)  # not hers
    assert store.write(accounts.drop_token, None, listed[1].id)  # an admin: anyone's


def test_roles_and_organisations(store: Store) -> None:
    ana, bo = _user(store, "ana@acme.example"), _user(store, "bo@beta.example", "Beta")
    acme, beta = ana.organisation, bo.organisation
    assert acme is not None and beta is not None
    store.write(accounts.assign_domain, "shop.example", beta, NOW)
    with pytest.raises(ValueError, match="role"):
        store.write(accounts.set_role, ana.id, "owner", acme)
    store.write(accounts.set_role, ana.id, "readonly", beta)
    moved = store.read(accounts.user_by_id, ana.id)
    assert moved is not None and (moved.role, moved.organisation_name) == ("readonly", "Beta")
    with pytest.raises(ValueError, match="exists already"):
        store.write(accounts.rename_organisation, acme, "Beta")
    store.write(accounts.rename_organisation, beta, "Beta Health")
    store.write(accounts.merge_organisations, beta, acme)
    assert store.read(accounts.organisations) == [(acme, "Acme")]
    assert {u.organisation_name for u in store.read(accounts.users)} == {"Acme"}
    assert [d.organisation_name for d in store.read(accounts.all_domains)] == ["Acme"]
    with pytest.raises(ValueError, match="itself"):
        store.write(accounts.merge_organisations, acme, acme)
