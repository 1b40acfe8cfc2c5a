"""The audit log through the dashboard and the API (a real uvicorn): each action done on the
pages or the API leaves one entry with the requester and their address (the forwarded one,
uvicorn trusting the loopback proxy); a failed login is recorded without its password; admins
list it on the Settings page (escaped) and at GET /api/v1/audit; nobody else can; and nothing
writes it through the API."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.site import PASSWORDS, Site, login
from tlsscope.app import accounts, audit
from tlsscope.app.scope import OPERATOR
from tlsscope.store.audit_rows import AuditEntry

pytestmark = pytest.mark.server

ADMIN = "admin@test.example"
MEMBER = "ana@acme.example"


def _csrf(client: httpx.Client, path: str = "/settings") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


@pytest.fixture
def since(site: Site) -> Iterator[int]:
    """The id of the latest entry before the test."""
    latest = audit.entries(site.store, OPERATOR, 1)
    yield latest[0].id if latest else 0


def _after(site: Site, start: int) -> list[AuditEntry]:
    return [e for e in reversed(audit.entries(site.store, OPERATOR, 1000)) if e.id > start]


def _browser(site: Site, address: str) -> httpx.Client:
    client = site.client()
    client.headers["x-forwarded-for"] = address
    return client


def _log_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf": csrf.group(1), "next": "/"})


def test_logins_failures_and_logouts(site: Site, since: int) -> None:
    browser = _browser(site, "203.0.113.41")
    hostile = "<script>alert(1)</script>\x1b[2J@evil.example"
    assert _log_in(browser, hostile, "the-typed-secret-1").status_code == 401
    assert _log_in(browser, ADMIN, "the-typed-secret-2").status_code == 401
    assert _log_in(browser, ADMIN, PASSWORDS[ADMIN]).status_code == 303
    assert browser.post("/logout", data={"csrf": _csrf(browser)}).status_code == 303
    entries = _after(site, since)
    admin = accounts.user(site.store, ADMIN).id
    assert [(e.action, e.actor, e.actor_id, e.address, e.target) for e in entries] == [
        ("login.failed", hostile, None, "203.0.113.41", hostile),
        ("login.failed", ADMIN, None, "203.0.113.41", ADMIN),
        ("login.succeeded", ADMIN, admin, "203.0.113.41", ADMIN),
        ("logout", ADMIN, admin, "203.0.113.41", ADMIN)]
    assert [e.detail for e in entries[:2]] == [{"known_user": False}, {"known_user": True}]
    assert "the-typed-secret" not in repr(entries)
    page = login(site, ADMIN).get("/settings").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "\x1b" not in page and "the-typed-secret" not in page


def test_every_settings_page_action_is_recorded(site: Site, since: int) -> None:
    admin = login(site, ADMIN)
    admin.headers["x-forwarded-for"] = "198.51.100.23"
    csrf = _csrf(admin)
    assert admin.post("/settings/users", data={
        "csrf": csrf, "email": "audit-web@test.example", "password": "a-long-password-1",
        "role": "member", "organisation": "Audit Web"}).status_code == 200
    user = accounts.user(site.store, "audit-web@test.example")
    org = accounts.existing_organisation(site.store, "Audit Web")
    for data in ({"action": "disable"}, {"action": "enable"},
                 {"action": "role", "role": "readonly", "organisation": "Audit Web"}):
        assert admin.post(f"/settings/users/{user.id}",
                          data={"csrf": csrf, **data}).status_code == 200
    assert admin.post("/settings/tokens", data={"csrf": csrf, "name": "audit-token",
                                                "token_scope": "read"}).status_code == 200
    [token] = [t for t in accounts.tokens(site.store, None) if t.name == "audit-token"]
    assert admin.post(f"/settings/tokens/{token.id}/delete",
                      data={"csrf": csrf}).status_code == 303
    assert admin.post("/settings/domains", data={
        "csrf": csrf, "domain": "audit-web.example", "organisation": "Audit Web"}
                      ).status_code == 200
    url = f"/settings/organisations/{org}"
    assert admin.post(url, data={"csrf": csrf, "action": "rename",
                                 "name": "Audit Web 2"}).status_code == 200
    assert admin.get(f"{url}/export").status_code == 200
    assert admin.post(f"/settings/users/{user.id}",
                      data={"csrf": csrf, "action": "delete"}).status_code == 200
    assert admin.post(url, data={"csrf": csrf, "action": "delete",
                                 "name": "Audit Web 2"}).status_code == 200
    entries = _after(site, since)[1:]  # after login()'s login.succeeded
    assert [(e.action, e.target) for e in entries] == [
        ("organisation.created", "Audit Web"), ("user.created", "audit-web@test.example"),
        ("user.changed", "audit-web@test.example"), ("user.changed", "audit-web@test.example"),
        ("user.changed", "audit-web@test.example"), ("token.created", "audit-token"),
        ("token.revoked", "audit-token"), ("domain.added", "audit-web.example"),
        ("organisation.renamed", "Audit Web 2"), ("organisation.exported", "Audit Web 2"),
        ("user.removed", "audit-web@test.example"), ("organisation.deleted", "Audit Web 2")]
    admin_id = accounts.user(site.store, ADMIN).id
    assert {(e.actor, e.actor_id, e.address) for e in entries} == {
        (ADMIN, admin_id, "198.51.100.23")}
    assert "a-long-password-1" not in repr(entries)


def test_api_actions_are_recorded(site: Site, since: int) -> None:
    api = site.api(MEMBER)
    forwarded = {"x-forwarded-for": "192.0.2.200"}
    made = api.post("/api/v1/alerts", headers=forwarded, json={
        "channel": "email", "target": "audit-target@elsewhere.example"})
    assert made.status_code == 201, made.text
    rule = made.json()["id"]
    assert api.delete(f"/api/v1/alerts/{rule}", headers=forwarded).status_code == 204
    assert api.get("/api/v1/export/reports.csv", headers=forwarded).status_code == 200
    assert api.get("/api/v1/export/findings.json?domain=shop.example",
                   headers=forwarded).status_code == 200
    accounts.new_token(site.store, accounts.user(site.store, MEMBER), "audit-api")
    [other] = [t for t in accounts.tokens(site.store, None) if t.name == "audit-api"]
    assert site.api(ADMIN).delete(f"/api/v1/tokens/{other.id}").status_code == 204
    entries = _after(site, since)
    member_id = accounts.user(site.store, MEMBER).id
    admin_id = accounts.user(site.store, ADMIN).id
    assert [(e.action, e.target, e.actor, e.actor_id, e.address) for e in entries] == [
        ("alert_rule.created", f"rule {rule}", MEMBER, member_id, "192.0.2.200"),
        ("alert_rule.removed", f"rule {rule}", MEMBER, member_id, "192.0.2.200"),
        ("export", "reports", MEMBER, member_id, "192.0.2.200"),
        ("export", "findings", MEMBER, member_id, "192.0.2.200"),
        ("token.created", "audit-api", "system", None, ""),
        ("token.revoked", "audit-api", ADMIN, admin_id, "127.0.0.1")]
    assert entries[2].detail["format"] == "csv" and entries[3].detail["format"] == "json"
    assert entries[3].detail["domain"] == "shop.example"
    assert "audit-target" not in repr(entries)


def test_only_admins_list_it(site: Site, since: int) -> None:
    assert accounts.check_password(site.store, "listed@nowhere.example", "not-it") is None
    admin = site.api(ADMIN)
    listed = admin.get("/api/v1/audit", params={"limit": 5, "action": "login"})
    assert listed.status_code == 200
    assert listed.json()[0]["target"] == "listed@nowhere.example"
    assert listed.json()[0]["action"] == "login.failed"
    assert set(listed.json()[0]) == {"id", "at", "actor", "actor_id", "address", "action",
                                     "target", "detail"}
    first = listed.json()[0]["id"]
    older = admin.get("/api/v1/audit", params={"before": first, "limit": 1}).json()
    assert [e["id"] for e in older] == [e.id for e in audit.entries(site.store, OPERATOR, 1,
                                                                     before=first)]
    for email in (MEMBER, "carla@acme.example", "bruno@beta.example"):
        assert site.api(email).get("/api/v1/audit").status_code == 404
        assert 'id="audit"' not in login(site, email).get("/settings").text
    assert site.client().get("/api/v1/audit").status_code == 401
    page = login(site, ADMIN).get("/settings", params={"audit_action": "login.failed"}).text
    assert 'id="audit"' in page and "listed@nowhere.example" in page


def test_nothing_writes_it_through_the_api(site: Site, since: int) -> None:
    admin = site.api(ADMIN)
    body = {"action": "user.created", "actor": "forged", "target": "forged"}
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        answer = admin.request(method, "/api/v1/audit", json=body)
        assert answer.status_code == 405, (method, answer.status_code)
        assert admin.request(method, "/api/v1/audit/1", json=body).status_code in (404, 405)
    browser = login(site, ADMIN)
    csrf = _csrf(browser)
    for path in ("/settings/audit", "/settings"):
        assert browser.post(path, data={"csrf": csrf, **body}).status_code in (404, 405)
    from tlsscope.settings import Settings
    from tlsscope.web import app as web_app

    made = web_app.create_app(None, Settings(), store=site.store)  # type: ignore[arg-type]
    for route in made.routes:  # the only audit route: a read
        path = getattr(route, "path", "")
        if "audit" in path:
            assert getattr(route, "methods", set()) <= {"GET", "HEAD"}, path
    assert all(e.actor != "forged" and e.target != "forged" for e in _after(site, since))



def test_alert_rules_made_and_removed_on_the_pages(site: Site, since: int) -> None:
    from tests.web.test_alerts_pages import add_rule, csrf_of, new_id

    ana = login(site, MEMBER)
    ana.headers["x-forwarded-for"] = "192.0.2.77"
    rule = new_id(add_rule(ana, target="audit-page@acme-ops.example", batch="daily"))
    assert ana.post(f"/settings/alerts/{rule}/delete",
                    data={"csrf": csrf_of(ana)}).status_code == 303
    entries = _after(site, since)[1:]  # after the login
    member = accounts.user(site.store, MEMBER).id
    assert [(e.action, e.target, e.actor, e.actor_id, e.address) for e in entries] == [
        ("alert_rule.created", f"rule {rule}", MEMBER, member, "192.0.2.77"),
        ("alert_rule.removed", f"rule {rule}", MEMBER, member, "192.0.2.77")]
    assert entries[0].detail["batch"] == "daily" and "audit-page" not in repr(entries)
