"""Tenancy: a user of Beta Health never sees anything of Acme Retail's domains (nor of the
unassigned one), through any API route, page or export: each answers 404."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.support.site import Site, login

pytestmark = pytest.mark.server

BETA = "bruno@beta.example"
ACME = "ana@acme.example"
ACME_READONLY = "carla@acme.example"
ADMIN = "admin@test.example"


def acme_resources(site: Site) -> dict[str, str]:
    """One of each kind of Acme resource, found as the admin."""
    api = site.api(ADMIN)
    finding = api.get("/api/v1/findings", params={"domain": "shop.example"}).json()[0]
    report = api.get("/api/v1/reports", params={"domain": "shop.example", "limit": 1}).json()[0]
    held = api.get("/api/v1/quarantine").json()[0]
    token = next(t for t in api.get("/api/v1/tokens").json() if t["email"] == ACME)
    rule = api.post("/api/v1/alerts", json={  # a rule of its own at each call
        "channel": "email", "target": f"ops-{secrets.token_hex(4)}@acme-ops.example",
        "organisation": "Acme Retail"})
    assert rule.status_code == 201, rule.text
    return {"domain": "shop.example", "finding_id": str(finding["id"]), "key": report["key"],
            "what": "reports", "fmt": "csv", "digest": held["sha256"],
            "token_id": str(token["id"]), "rule_id": str(rule.json()["id"])}


def fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, path
    return path


def test_every_api_route_hides_another_tenants_data(site: Site) -> None:
    schema: dict[str, Any] = site.client().get("/openapi.json").json()
    values = acme_resources(site)
    beta = site.api(BETA)
    checked = 0
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/") or "{" not in path:
            continue
        for method in operations:
            params = {"domain": "shop.example"} if path.startswith("/api/v1/export") else {}
            answer = beta.request(method.upper(), fill(path, values), params=params)
            assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
            checked += 1
    # stats, summary, checks (GET, POST), finding, report, raw, export, quarantine raw and
    # re-read (admins only)
    assert checked >= 10


def test_lists_and_exports_hold_only_the_tenants_domains(site: Site) -> None:
    beta = site.api(BETA)
    assert [c["domain"] for c in beta.get("/api/v1/domains").json()] == ["clinic.example"]
    assert {v["finding"]["domain"] for v in beta.get("/api/v1/findings").json()} == {
        "clinic.example"}
    reports = beta.get("/api/v1/reports", params={"limit": 500}).json()
    assert reports and {d for r in reports for d in r["domains"]} == {"clinic.example"}
    for what in ("reports", "failures", "findings"):
        exported = beta.get(f"/api/v1/export/{what}.csv").text
        assert "shop.example" not in exported and "legacy.example" not in exported, what
        assert "clinic.example" in exported, what
    assert beta.get("/api/v1/export/reports.csv", params={"domain": "legacy.example"}
                    ).status_code == 404
    assert beta.get("/api/v1/reports", params={"domain": "news.example"}).status_code == 404
    assert beta.get("/api/v1/quarantine").status_code == 404  # admins only
    acme = [c["domain"] for c in site.api(ACME).get("/api/v1/domains").json()]
    assert acme == ["news.example", "shop.example", "xss.example"] or sorted(acme) == [
        "news.example", "shop.example", "xss.example"]


def test_every_page_hides_another_tenants_data(site: Site) -> None:
    values = acme_resources(site)
    client = login(site, BETA)
    for path in ("/domains/shop.example", "/domains/legacy.example",
                 f"/findings/{values['finding_id']}", f"/reports/{values['key']}",
                 f"/reports/{values['key']}/raw", "/reports?domain=shop.example",
                 "/quarantine"):
        answer = client.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
        assert "shop.example" not in answer.text or path.endswith("shop.example")
    overview = client.get("/").text
    assert "clinic.example" in overview and "shop.example" not in overview
    listing = client.get("/reports").text
    assert "shop.example" not in listing and "clinic.example" in listing


def test_read_only_users_change_nothing(site: Site) -> None:
    readonly = site.api(ACME_READONLY)
    assert readonly.get("/api/v1/domains/shop.example/stats").status_code == 200
    assert readonly.post("/api/v1/domains/shop.example/checks").status_code == 403
    member = site.api(ACME)
    assert member.post("/api/v1/domains/clinic.example/checks").status_code == 404


def test_a_new_organisation_sees_the_empty_state(site: Site) -> None:
    from tests.support.site import PASSWORDS
    from tlsscope.app.accounts import add_user

    PASSWORDS["gil@gamma.example"] = "gamma-password-1"
    add_user(site.store, "gil@gamma.example", "gamma-password-1", "member", "Gamma")
    page = login(site, "gil@gamma.example").get("/").text
    assert "No reports yet" in page and "/tools#setup" in page
    assert "clinic.example" not in page and "shop.example" not in page
