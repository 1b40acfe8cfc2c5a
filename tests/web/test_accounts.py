"""Accounts through the real HTTP app: bearer tokens stay out of the HTML forms, a new
password or a disable ends sessions and tokens, token scopes and expiry, the login throttle,
no-store and HSTS, and the first-run admin's password kept out of the log."""

from __future__ import annotations

import datetime as dt
import logging
import re

import httpx
import pytest

from tests.support.site import PASSWORDS, Site, login
from tlsscope.app.accounts import add_user, digest, hash_password, new_token
from tlsscope.store import Store, accounts

pytestmark = pytest.mark.server

ADMIN = "admin@test.example"


def _user(site: Site, email: str, role: str = "member") -> accounts.User:
    """A user of this test alone (the site is shared), with a known password."""
    PASSWORDS[email] = "its-own-password-1"
    if site.store.read(accounts.find_user, email) is None:
        add_user(site.store, email, PASSWORDS[email], role, "Acme Retail")
    found = site.store.read(accounts.find_user, email)
    assert found is not None
    return found


def _bearer(site: Site, token: str) -> httpx.Client:
    made = httpx.Client(base_url=site.url, timeout=30,
                        headers={"authorization": f"Bearer {token}"})
    site.clients[f"bearer:{len(site.clients)}"] = made  # closed at the end
    return made


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/settings").text)
    assert found is not None
    return found.group(1)


def test_a_bearer_token_is_not_accepted_on_the_html_forms(site: Site) -> None:
    api = site.api(ADMIN)  # an admin-scope token of an admin
    made = api.post("/settings/users", data={"email": "sneaky@test.example",
                                             "password": "sneaky-password-1", "role": "admin"})
    assert made.status_code == 303 and made.headers["location"].startswith("/login")
    assert site.store.read(accounts.find_user, "sneaky@test.example") is None
    assert api.get("/settings").status_code == 303  # no page for a token either
    assert api.post("/logout").status_code == 303  # was 500
    assert api.get("/api/v1/domains").status_code == 200  # the API still takes it


def test_a_new_password_or_a_disable_ends_sessions_and_tokens(site: Site) -> None:
    user = _user(site, "dora@acme.example")
    browser = login(site, user.email)
    token = new_token(site.store, user, "script", "write")
    api = _bearer(site, token)
    assert api.get("/api/v1/domains").status_code == 200
    site.store.write(accounts.set_password, user.id, hash_password("a-new-password-1"))
    assert api.get("/api/v1/domains").status_code == 401
    assert browser.get("/").status_code == 303
    PASSWORDS[user.email] = "a-new-password-1"
    browser = login(site, user.email)
    token = new_token(site.store, user, "script")
    api = _bearer(site, token)
    site.store.write(accounts.set_disabled, user.id, True)
    assert api.get("/api/v1/domains").status_code == 401
    assert browser.get("/").status_code == 303
    with pytest.raises(AssertionError):
        login(site, user.email)  # a disabled user cannot log in
    site.store.write(accounts.set_disabled, user.id, False)
    assert login(site, user.email).get("/").status_code == 200


def test_token_scopes_and_expiry(site: Site) -> None:
    user = site.store.read(accounts.find_user, ADMIN)
    assert user is not None
    clients = {}
    for scope in ("read", "write", "admin"):
        token = new_token(site.store, user, f"scope-{scope}", scope)
        clients[scope] = _bearer(site, token)
    read, write, admin = clients["read"], clients["write"], clients["admin"]
    assert read.get("/api/v1/domains").status_code == 200
    refused = read.post("/api/v1/quarantine/0/reingest")
    assert refused.status_code == 403 and "scope is read" in refused.json()["detail"]
    assert write.post("/api/v1/quarantine/0/reingest").status_code == 404  # allowed: none such
    assert write.get("/api/v1/tokens").status_code == 403
    listed = admin.get("/api/v1/tokens").json()
    assert {"scope-read", "scope-write", "scope-admin"} <= {t["name"] for t in listed}
    target = next(t for t in listed if t["name"] == "scope-read")
    assert target["scope"] == "read" and target["email"] == ADMIN
    assert admin.delete(f"/api/v1/tokens/{target['id']}").status_code == 204
    assert read.get("/api/v1/domains").status_code == 401
    # a default token reads only; one past its expiry is refused
    default = new_token(site.store, user, "default")
    found = site.store.read(accounts.token_user, digest(default), dt.datetime.now(dt.UTC))
    assert found is not None and found[3] == "read"
    expiring = new_token(site.store, user, "short", "admin", expires_days=1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1, minutes=1)
    assert site.store.read(accounts.token_user, digest(expiring), later) is None
    assert site.store.read(accounts.token_user, digest(expiring),
                           dt.datetime.now(dt.UTC)) is not None


def test_an_admin_revokes_anyone_s_token_on_the_settings_page(site: Site) -> None:
    user = _user(site, "ed@acme.example")
    token = new_token(site.store, user, "eds-token")
    row = next(t for t in site.store.read(accounts.tokens, user.id) if t.name == "eds-token")
    admin = login(site, ADMIN)
    page = admin.get("/settings").text
    assert "eds-token" in page and "ed@acme.example" in page
    done = admin.post(f"/settings/tokens/{row.id}/delete", data={"csrf": _csrf(admin)})
    assert done.status_code == 303
    assert site.store.read(accounts.token_user, digest(token), dt.datetime.now(dt.UTC)) is None
    member = login(site, "ana@acme.example")  # a member can revoke only their own
    other = new_token(site.store, user, "eds-other")
    other_row = next(t for t in site.store.read(accounts.tokens, user.id)
                     if t.name == "eds-other")
    assert member.post(f"/settings/tokens/{other_row.id}/delete",
                       data={"csrf": _csrf(member)}).status_code == 404
    assert site.store.read(accounts.token_user, digest(other), dt.datetime.now(dt.UTC))


def test_a_right_password_clears_the_failures(site: Site) -> None:
    user = _user(site, "fay@acme.example")

    def attempt(password: str) -> int:
        client = site.client()  # the login CSRF cookie goes with a login
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert csrf is not None
        return client.post("/login", data={"email": user.email, "password": password,
                                           "csrf": csrf.group(1)}).status_code

    assert [attempt(f"wrong{n}") for n in range(9)] == [401] * 9
    assert attempt(PASSWORDS[user.email]) == 303
    assert [attempt(f"wrong{n}") for n in range(10)] == [401] * 10  # from zero again
    assert attempt(PASSWORDS[user.email]) == 429


def test_authenticated_responses_are_not_stored(site: Site) -> None:
    assert login(site, ADMIN).get("/").headers["cache-control"] == "no-store"
    assert site.api(ADMIN).get("/api/v1/domains").headers["cache-control"] == "no-store"
    anonymous = site.client().get("/login")
    assert "no-store" not in anonymous.headers.get("cache-control", "")
    assert "strict-transport-security" not in anonymous.headers  # plain HTTP


def test_hsts_over_https(site: Site) -> None:
    from tlsscope.web.app import SecurityHeaders

    async def hello(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                    "headers": [(b"cache-control", b"max-age=60")]})
        await send({"type": "http.response.body", "body": b"hi"})  # type: ignore[operator]

    transport = httpx.ASGITransport(app=SecurityHeaders(hello))
    import asyncio

    async def fetch(url: str, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.get(url, headers=headers)

    secure = asyncio.run(fetch("https://tlsscope.test/", authorization="Bearer x"))
    assert secure.headers["strict-transport-security"] == "max-age=31536000"
    assert secure.headers["cache-control"] == "no-store"
    plain = asyncio.run(fetch("http://tlsscope.test/"))
    assert "strict-transport-security" not in plain.headers
    assert plain.headers["cache-control"] == "max-age=60"


def test_the_operator_s_admin_password_is_not_logged(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from pathlib import Path

    from tlsscope.serve import first_admin

    folder = Path(str(tmp_path))
    monkeypatch.setenv("TLSSCOPE_ADMIN_EMAIL", "root@test.example")
    monkeypatch.setenv("TLSSCOPE_ADMIN_PASSWORD", "the-operators-secret")
    with caplog.at_level(logging.WARNING), Store.open(f"sqlite:///{folder / 'a.db'}") as store:
        first_admin(store)
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "root@test.example" in text and "the-operators-secret" not in text
    monkeypatch.delenv("TLSSCOPE_ADMIN_PASSWORD")
    caplog.clear()
    with caplog.at_level(logging.WARNING), Store.open(f"sqlite:///{folder / 'b.db'}") as store:
        first_admin(store)
        fields = caplog.records[-1].__dict__["fields"]
    assert len(fields["password"]) >= 12  # a generated one is shown, once


def test_live_checks_are_rate_limited_per_user_and_domain(site: Site) -> None:
    user = _user(site, "gil@acme.example")
    browser = login(site, user.email)
    csrf = _csrf(browser)
    first = browser.post("/tools/check", data={"domain": "good.example", "csrf": csrf},
                         headers={"HX-Request": "true"})
    assert first.status_code == 200
    again = browser.post("/tools/check", data={"domain": "good.example", "csrf": csrf},
                         headers={"HX-Request": "true"})
    assert again.status_code == 429 and 50 <= int(again.headers["retry-after"]) <= 60
    token = new_token(site.store, user, "checks", "write")
    api = _bearer(site, token)
    refused = api.post("/api/v1/domains/news.example/checks")
    assert refused.status_code == 201  # another domain
    assert api.post("/api/v1/domains/news.example/checks").status_code == 429
    assert "one per domain a minute" in api.post(
        "/api/v1/domains/news.example/checks").json()["detail"]
    other = login(site, "ana@acme.example")  # another user is not limited by gil's checks
    assert other.post("/tools/check", data={"domain": "good.example", "csrf": _csrf(other)},
                      headers={"HX-Request": "true"}).status_code == 200


def test_the_check_limiter_counts_per_hour() -> None:
    from tlsscope.web.check_limit import CheckLimiter

    limiter = CheckLimiter(per_domain=60, per_hour=20)
    assert [limiter.wait(1, f"d{n}.example", now=float(n)) for n in range(20)] == [0] * 20
    assert limiter.wait(1, "d99.example", now=30.0) == 3600 - 30
    assert limiter.wait(2, "d99.example", now=30.0) == 0  # another user
    assert limiter.wait(1, "d99.example", now=3600.0) == 0  # the first aged out
    assert limiter.wait(1, "d1.example", now=3600.5) == 1  # the second not yet


def test_an_admin_manages_users_on_the_settings_page(site: Site) -> None:
    user = _user(site, "hal@acme.example")
    theirs = login(site, user.email)
    admin = login(site, ADMIN)
    csrf = _csrf(admin)

    def change(**data: str) -> httpx.Response:
        return admin.post(f"/settings/users/{user.id}", data={"csrf": csrf, **data})

    assert change(action="disable").status_code == 200
    assert theirs.get("/").status_code == 303  # the session ended
    assert "(disabled)" in admin.get("/settings").text
    assert change(action="enable").status_code == 200
    assert change(action="role", role="readonly", organisation="Beta Health").status_code == 200
    moved = site.store.read(accounts.find_user, user.email)
    assert moved is not None and (moved.role, moved.organisation_name) == (
        "readonly", "Beta Health")
    assert change(action="role", role="member", organisation="").status_code == 400
    me = site.store.read(accounts.find_user, ADMIN)
    assert me is not None
    assert admin.post(f"/settings/users/{me.id}", data={"csrf": csrf, "action": "disable"}
                      ).status_code == 400  # not oneself
    member = login(site, "ana@acme.example")
    assert member.post(f"/settings/users/{user.id}", data={
        "csrf": _csrf(member), "action": "delete"}).status_code == 404
    assert admin.post(f"/settings/users/{user.id}", data={"action": "delete"}
                      ).status_code == 403  # no CSRF token
    assert change(action="delete").status_code == 200
    assert site.store.read(accounts.find_user, user.email) is None
    assert change(action="delete").status_code == 404


def test_a_stranger_behind_the_same_address_cannot_lock_a_known_browser_out(
        site: Site) -> None:
    user = _user(site, "ivo@acme.example")
    known = login(site, user.email)  # this browser logged in before: it has a device cookie
    assert known.cookies.get("tlsscope_device")

    def attempt(client: httpx.Client, password: str) -> int:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert csrf is not None
        return client.post("/login", data={"email": user.email, "password": password,
                                           "csrf": csrf.group(1)}).status_code

    stranger = site.client()  # same address (loopback), no device cookie
    assert [attempt(stranger, f"guess{n}") for n in range(11)] == [401] * 10 + [429]
    assert attempt(known, PASSWORDS[user.email]) == 303  # the user still gets in
    assert attempt(site.client(), PASSWORDS[user.email]) == 429  # a new browser waits


def test_an_admin_renames_and_merges_organisations_on_the_settings_page(site: Site) -> None:
    # users, no domains: the site is shared and other tests count its domains
    for email, org in (("jo@org-a.example", "Org A"), ("kim@org-b.example", "Org B")):
        add_user(site.store, email, "its-own-password-1", "member", org)
    ids = {name: org_id for org_id, name in site.store.read(accounts.organisations)}
    admin = login(site, ADMIN)
    csrf = _csrf(admin)
    assert "Org A" in admin.get("/settings").text

    def change(org: int, **data: str) -> httpx.Response:
        return admin.post(f"/settings/organisations/{org}", data={"csrf": csrf, **data})

    assert change(ids["Org A"], action="rename", name="Org B").status_code == 400  # taken
    assert change(ids["Org A"], action="rename", name="Org A2").status_code == 200
    assert change(ids["Org B"], action="merge", name="Nope").status_code == 400
    assert change(ids["Org B"], action="merge", name="Org A2").status_code == 200
    orgs = {u.email: u.organisation_name for u in site.store.read(accounts.users)}
    assert orgs["jo@org-a.example"] == orgs["kim@org-b.example"] == "Org A2"
    assert "Org B" not in dict(site.store.read(accounts.organisations)).values()
    member = login(site, "ana@acme.example")
    assert member.post(f"/settings/organisations/{ids['Org A']}", data={
        "csrf": _csrf(member), "action": "rename", "name": "Mine"}).status_code == 404
