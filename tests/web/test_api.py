"""The /api/v1 JSON API over real HTTP (uvicorn on loopback), with API tokens."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from tests.support.site import FORMULA, Site, login

pytestmark = pytest.mark.server

ADMIN = "admin@test.example"


def test_no_token_no_data(site: Site) -> None:
    plain = site.client()
    anonymous = plain.get("/api/v1/domains")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    wrong = plain.get("/api/v1/domains", headers={"authorization": "Bearer tls_no"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid API token"


def test_domains_stats_summary(site: Site) -> None:
    api = site.api(ADMIN)
    cards = {c["domain"]: c for c in api.get("/api/v1/domains").json()}
    assert set(cards) == {"shop.example", "news.example", "clinic.example", "legacy.example",
                          "xss.example", "old.example"}
    assert cards["old.example"]["sessions"] == 0  # its only report is 401 days old
    shop = cards["shop.example"]
    assert shop["organisation"] == "Acme Retail" and shop["policy"] == "sts enforce"
    assert shop["open_findings"]["critical"] >= 1 and 0 < shop["success_rate"] < 100
    assert len(shop["spark"]) == 30 and shop["last_report"]
    for name, card in cards.items():  # the overview's batched figures = each domain's stats
        alone = api.get(f"/api/v1/domains/{name}/stats", params={"days": 30}).json()
        assert card["sessions"] == alone["successful"] + alone["failed"], name
        assert card["failed"] == alone["failed"], name
        assert card["policy"] == (alone["by_policy"][0]["name"] if alone["by_policy"] else "")
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    stats = api.get("/api/v1/domains/shop.example/stats",
                    params={"days": 7, "until": yesterday.isoformat()}).json()
    assert len(stats["days"]) == 7 and stats["failed"] > 0
    assert stats["until"] == yesterday.isoformat()
    assert stats["by_mx"][0]["name"] == "mx2.shop.example"
    assert stats["successful"] + stats["failed"] == sum(
        d["successful"] + d["failed"] for d in stats["days"])
    summary = api.get("/api/v1/domains/shop.example/summary", params={"lang": "pt"}).json()
    assert summary["lang"] == "pt" and summary["sentences"]
    assert any("mx2.shop.example" in p["mx_host"] for p in summary["problems"])


def test_summary_marks_the_problem_of_the_forged_report_unconfirmed(site: Site) -> None:
    """The demo's one HTTPS report from a new sender (certificate-host-mismatch at mx1): the
    summary holds it at medium and says why, as `findings` does."""
    api = site.api(ADMIN)
    for lang, said in (("en", "Unconfirmed: "), ("pt", "Não confirmado: ")):
        summary = api.get("/api/v1/domains/shop.example/summary",
                          params={"lang": lang, "days": 7}).json()
        [forged] = [p for p in summary["problems"] if p["mx_host"] == "mx1.shop.example"
                    and p["result_type"] == "certificate-host-mismatch"]
        assert (forged["confirmed"], forged["severity"]) == (False, "medium")
        assert all(p["confirmed"] for p in summary["problems"] if p is not forged)
        assert sum(s.startswith(said) for s in summary["sentences"]) == 1


def test_bad_parameters_name_the_problem(site: Site) -> None:
    api = site.api(ADMIN)
    bad_date = api.get("/api/v1/domains/shop.example/stats", params={"since": "2026-02-30"})
    assert bad_date.status_code == 422
    assert "query.since" in bad_date.json()["detail"][0]
    assert api.get("/api/v1/findings", params={"lang": "xx"}).status_code == 422
    backwards = api.get("/api/v1/domains/shop.example/stats",
                        params={"since": "2026-05-02", "until": "2026-05-01"})
    assert backwards.status_code == 422 and "since" in backwards.json()["detail"]


def test_findings_and_one_finding(site: Site) -> None:
    api = site.api(ADMIN)
    found = api.get("/api/v1/findings", params={"domain": "shop.example"}).json()
    expired = next(v for v in found if v["finding"]["result_type"] == "certificate-expired")
    assert expired["finding"]["mx_host"] == "mx2.shop.example"
    assert expired["finding"]["evidence"]
    one = api.get(f"/api/v1/findings/{expired['id']}", params={"lang": "pt"}).json()
    assert one["finding"]["kind"] == "certificate"
    assert one["history"][0]["status"] == "open"
    assert "expirou" in one["finding"]["title"].lower()  # Portuguese texts


def test_reports_filters_detail_and_raw(site: Site) -> None:
    api = site.api(ADMIN)
    google = api.get("/api/v1/reports", params={"domain": "shop.example", "reporter": "goo",
                                                "limit": 5}).json()
    assert len(google) == 5 and all(r["organization_name"] == "Google Inc." for r in google)
    assert [r["day"] for r in google] == sorted((r["day"] for r in google), reverse=True)
    expired = api.get("/api/v1/reports", params={"result_type": "tlsa-invalid"}).json()
    assert expired and all(r["domains"] == ["clinic.example"] for r in expired)
    page2 = api.get("/api/v1/reports", params={"domain": "shop.example", "reporter": "goo",
                                               "limit": 5, "offset": 5}).json()
    assert not {r["key"] for r in page2} & {r["key"] for r in google}
    detail = api.get(f"/api/v1/reports/{google[0]['key']}").json()
    assert detail["report"]["organization-name"] == "Google Inc."
    assert detail["reading"]["sentences"]
    raw = api.get(f"/api/v1/reports/{google[0]['key']}/raw")
    assert raw.headers["content-type"] == "application/json"
    assert raw.json()["report-id"] == google[0]["report_id"]


def test_quarantine_and_checks(site: Site) -> None:
    api = site.api(ADMIN)
    held = api.get("/api/v1/quarantine").json()
    assert len(held) == 1 and held[0]["source"] == "demo/not-a-report.json"
    assert held[0]["errors"]
    raw = api.get(f"/api/v1/quarantine/{held[0]['sha256']}/raw")
    assert raw.content.startswith(b'{"organization-name": "Broken Sender"')
    again = api.post(f"/api/v1/quarantine/{held[0]['sha256']}/reingest")
    assert again.json() == {"outcome": "still_rejected"}
    assert api.get("/api/v1/quarantine/00ff/raw").status_code == 404
    assert api.get("/api/v1/domains/shop.example/checks").json() == []


def test_exports_are_filtered_and_formula_safe(site: Site) -> None:
    api = site.api(ADMIN)
    reports = api.get("/api/v1/export/reports.csv", params={"domain": "xss.example"})
    assert reports.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reports.text)))
    formula = next(r for r in rows if "HYPERLINK" in r["organization_name"])
    assert formula["organization_name"] == "'" + FORMULA
    assert formula["report_id"].startswith("'+cmd")
    assert all(not r["organization_name"].startswith(("=", "+", "-", "@")) for r in rows)
    failures = api.get("/api/v1/export/failures.csv",
                       params={"domain": "clinic.example", "result_type": "tlsa-invalid"})
    failure_rows = list(csv.DictReader(io.StringIO(failures.text)))
    assert failure_rows and {r["result_type"] for r in failure_rows} == {"tlsa-invalid"}
    assert {r["policy_domain"] for r in failure_rows} == {"clinic.example"}
    findings = api.get("/api/v1/export/findings.json", params={"domain": "shop.example"})
    assert {f["domain"] for f in findings.json()} == {"shop.example"}
    assert api.get("/api/v1/export/secrets.csv").status_code == 404


def test_openapi_documents_the_api_and_docs_load_nothing_remote(site: Site) -> None:
    plain = site.client()
    schema = plain.get("/openapi.json").json()
    for path in ("/api/v1/domains", "/api/v1/findings", "/api/v1/reports/{key}/raw",
                 "/api/v1/export/{what}.{fmt}", "/v1/tlsrpt"):
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert schema["paths"]["/api/v1/domains"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in schema["paths"]["/v1/tlsrpt"]["post"]  # senders have no token
    docs = plain.get("/docs")
    sources = re.findall(r"(?:src|href)='([^']+)'", docs.text)
    assert sources and all(s.startswith("/static/") for s in sources)
    for source in sources:
        assert plain.get(source).status_code == 200


def test_security_headers_and_csrf(site: Site) -> None:
    plain = site.client()
    page = plain.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    client = login(site, ADMIN)
    forged = client.post("/settings/tokens", data={"name": "x"})
    assert forged.status_code == 403
    also = client.post("/api/v1/domains/shop.example/checks")  # cookie, no X-CSRF-Token
    assert also.status_code == 403
    no_cookie = site.client().post("/login", data={"email": ADMIN, "password": "x",
                                                   "csrf": "guess"})
    assert no_cookie.status_code == 403


def test_wrong_password_and_session_cookie(site: Site) -> None:
    client = site.client()
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    wrong = client.post("/login", data={"email": ADMIN, "password": "not-it",
                                        "csrf": csrf.group(1), "next": "//evil.example/"})
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    good = login(site, ADMIN)
    cookie = next(c for c in good.cookies.jar if c.name == "tlsscope_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    # An open redirect is refused: `next` must be a path on this site.
    sneaky = site.client()
    page = sneaky.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = sneaky.post("/login", data={"email": ADMIN, "password": "admin-password-1",
                                       "csrf": csrf.group(1), "next": "//evil.example/"})
    assert done.headers["location"] == "/"


def test_token_use_is_recorded_at_most_once_a_minute(site: Site) -> None:
    from tlsscope.app.accounts import digest
    from tlsscope.store import accounts

    api = site.api(ADMIN)
    assert api.get("/api/v1/domains").status_code == 200
    now = dt.datetime.now(dt.UTC)
    found = site.store.read(accounts.token_user, digest(site.tokens[ADMIN]), now)
    assert found is not None and found[2] is False  # just used: no write needed
    later = site.store.read(accounts.token_user, digest(site.tokens[ADMIN]),
                            now + dt.timedelta(minutes=2))
    assert later is not None and later[2] is True
    page = login(site, ADMIN).get("/settings").text
    assert re.search(r"<td>tests</td><td>\d{4}-\d\d-\d\d</td><td>\d{4}-\d\d-\d\d \d\d:\d\d</td>",
                     page)


def test_password_guessing_is_throttled(site: Site) -> None:
    client = site.client()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert csrf is not None
    codes = [client.post("/login", data={"email": "guess@test.example", "password": f"x{n}",
                                         "csrf": csrf.group(1)}).status_code
             for n in range(11)]
    assert codes == [401] * 10 + [429]
    blocked = client.post("/login", data={"email": "guess@test.example", "password": "x",
                                          "csrf": csrf.group(1)})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 800
    assert "Too many wrong passwords" in blocked.text
    assert login(site, ADMIN).get("/").status_code == 200  # other accounts are not locked out


def test_tools_work_without_javascript(site: Site) -> None:
    client = login(site, ADMIN)
    page = client.get("/tools").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    whole = client.post("/tools/record", data={"action": "tlsrpt", "csrf": csrf.group(1),
                                                "rua": "mailto:tls@example.net"})
    assert "<h1>Tools</h1>" in whole.text  # the whole page, with the result in it
    assert "v=TLSRPTv1; rua=mailto:tls@example.net" in whole.text
    fragment = client.post("/tools/record", headers={"HX-Request": "true"},
                           data={"action": "check", "csrf": csrf.group(1),
                                 "text": "v=STSv1; id=1;"})
    assert "<h1>" not in fragment.text and "Valid" in fragment.text


def test_one_window_and_where_older_reports_are(site: Site) -> None:
    client = login(site, ADMIN)
    page = client.get("/domains/old.example")
    assert page.status_code == 200
    assert "the N days up to today (UTC)" in page.text
    assert 'id="older"' in page.text  # the window stays the last 30 days, and says where
    latest = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=401)).isoformat()
    assert f"until={latest}" in page.text
    api = site.api(ADMIN)
    default = api.get("/api/v1/domains/old.example/stats").json()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert default["reports"] == 0 and default["until"] == today
    older = api.get("/api/v1/domains/old.example/stats", params={"until": latest}).json()
    assert older["reports"] == 1
    shown = client.get(f"/domains/old.example?days=30&until={latest}")
    assert 'id="older"' not in shown.text


def test_resolved_findings_are_reachable_on_the_page_and_in_the_api(site: Site) -> None:
    api = site.api(ADMIN)
    resolved = api.get("/api/v1/findings", params={"domain": "news.example",
                                                    "status": "resolved"}).json()
    assert resolved and all(v["finding"]["status"] == "resolved" for v in resolved)
    every = api.get("/api/v1/findings", params={"domain": "news.example", "status": "all"})
    assert len(every.json()) > len(resolved)
    client = login(site, ADMIN)
    default = client.get("/domains/news.example").text
    one = resolved[0]
    assert f'href="/findings/{one["id"]}"' not in default
    assert 'id="status-filter"' in default and "status=resolved" in default
    page = client.get("/domains/news.example", params={"status": "resolved"}).text
    assert f'href="/findings/{one["id"]}"' in page
    assert client.get("/domains/news.example", params={"status": "bogus"}).status_code in (
        400, 422)
