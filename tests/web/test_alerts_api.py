"""The alert routes of the JSON API (web/api_alerts.py) over real HTTP: rules added, listed
and removed; token scopes and roles; each organisation's rules its own (404 otherwise);
secrets and Slack URLs never in an answer after creation; private webhook addresses refused
unless allowed; a test delivered to a real receiver, and the log with its attempt."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.support.hooks import receiver
from tests.support.site import Site, login
from tlsscope.app.accounts import new_token
from tlsscope.store import accounts as account_rows

pytestmark = pytest.mark.server

ADMIN = "admin@test.example"
ACME = "ana@acme.example"
ACME_READONLY = "carla@acme.example"
BETA = "bruno@beta.example"
ALERTS = "/api/v1/alerts"


def ids(api: httpx.Client) -> set[int]:
    listed = api.get(ALERTS)
    assert listed.status_code == 200
    return {rule["id"] for rule in listed.json()}


def test_a_member_adds_lists_and_removes_a_rule(site: Site) -> None:
    api = site.api(ACME)
    made = api.post(ALERTS, json={"channel": "email", "target": "Alerts@ACME-OPS.example",
                                  "domains": ["shop.example"], "min_severity": "high",
                                  "batch": "daily", "quiet": "22:00-07:00",
                                  "timezone": "Europe/Lisbon", "lang": "pt",
                                  "events": ["finding.opened"], "kinds": ["certificate"]})
    assert made.status_code == 201, made.text
    body = made.json()
    assert set(body) == {"id", "warnings", "secret"} and body["secret"] == ""
    [rule] = [r for r in api.get(ALERTS).json() if r["id"] == body["id"]]
    assert rule["organisation"] == "Acme Retail"  # a member's default: their own
    assert rule["target"] == "Alerts@acme-ops.example" and rule["channel"] == "email"
    assert (rule["domains"], rule["min_severity"], rule["batch"]) == (
        ["shop.example"], "high", "daily")
    assert (rule["quiet"], rule["timezone"], rule["lang"]) == ("22:00-07:00",
                                                               "Europe/Lisbon", "pt")
    assert rule["events"] == ["finding.opened"] and rule["kinds"] == ["certificate"]
    assert "secret" not in rule
    assert api.delete(f"{ALERTS}/{body['id']}").status_code == 204
    assert body["id"] not in ids(api)
    assert api.delete(f"{ALERTS}/{body['id']}").status_code == 404


def test_an_address_at_a_monitored_domain_is_warned_about(site: Site) -> None:
    made = site.api(ACME).post(ALERTS, json={"channel": "email",
                                             "target": "tls@news.example"})
    assert made.status_code == 201
    monitored, no_relay = made.json()["warnings"]
    assert "news.example, a domain this installation monitors" in monitored
    assert no_relay.startswith("smtp_url is not set")  # as `tlsscope alerts add` warns


def test_wrong_values_are_named(site: Site) -> None:
    api = site.api(ACME)
    for body, named in (({"channel": "pager", "target": "x"}, "must be one of"),
                        ({"channel": "email", "target": "not-an-address"}, "email"),
                        ({"channel": "email", "target": "a@b.example", "quiet": "late"},
                         "quiet hours"),
                        ({"channel": "email", "target": "a@b.example", "timezone": "Mars/Base"},
                         "time zone"),
                        ({"channel": "email", "target": "a@b.example", "events": ["x.y"]},
                         "event"),
                        ({"channel": "slack", "target": "https://hooks.slack.example/x",
                          "secret": "s"}, "secret")):
        answer = api.post(ALERTS, json=body)
        assert answer.status_code == 422, body
        assert named in str(answer.json()["detail"]), (body, answer.text)
    unknown = api.post(ALERTS, json={"channel": "email", "target": "a@b.example", "x": 1})
    assert unknown.status_code == 422  # no field is silently ignored
    days = api.post(ALERTS, json={"channel": "email", "target": "a@b.example",
                                  "suppress_days": 400})
    assert days.status_code == 422 and "suppress_days" in days.text


@pytest.mark.parametrize("path", [
    f"{ALERTS}/99999999999999999999999/test", f"{ALERTS}/{2**63}",
    f"{ALERTS}/findings/99999999999999999999999", "/api/v1/findings/99999999999999999999999",
    "/api/v1/tokens/99999999999999999999999", f"{ALERTS}/0"])
def test_an_id_that_names_no_row_is_a_422(site: Site, path: str) -> None:
    api = site.api(ADMIN)
    answer = (api.post(path) if path.endswith("/test") else
              api.delete(path) if "/findings/" not in path else api.get(path))
    assert answer.status_code == 422, (path, answer.status_code, answer.text)
    assert "less than or equal to" in answer.text or "greater than or equal" in answer.text


def test_tenancy_and_roles(site: Site) -> None:
    admin = site.api(ADMIN)
    acme = admin.post(ALERTS, json={"channel": "email", "target": "noc@acme-ops.example",
                                    "organisation": "Acme Retail"}).json()["id"]
    every = admin.post(ALERTS, json={"channel": "email", "target": "noc@ops.example.net"}
                       ).json()["id"]
    assert {acme, every} <= ids(admin)
    beta = site.api(BETA)
    assert acme not in ids(beta) and every not in ids(beta)
    for method, path in (("DELETE", f"{ALERTS}/{acme}"), ("POST", f"{ALERTS}/{acme}/test"),
                         ("DELETE", f"{ALERTS}/{every}")):
        assert beta.request(method, path).status_code == 404, path
    assert "noc@acme-ops.example" not in beta.get(f"{ALERTS}/log").text
    theirs = beta.post(ALERTS, json={"channel": "email", "target": "b@beta-ops.example",
                                     "organisation": "Acme Retail"})
    assert theirs.status_code == 404  # another organisation does not exist for them
    assert beta.post(ALERTS, json={"channel": "email", "target": "b@beta-ops.example",
                                   "domains": ["shop.example"]}).status_code == 422
    ana = site.api(ACME)
    assert acme in ids(ana) and every not in ids(ana)
    assert ana.delete(f"{ALERTS}/{every}").status_code == 404
    carla = site.api(ACME_READONLY)
    assert acme in ids(carla)
    assert carla.post(ALERTS, json={"channel": "email", "target": "c@acme-ops.example"}
                      ).status_code == 403
    assert carla.delete(f"{ALERTS}/{acme}").status_code == 403
    assert carla.post(f"{ALERTS}/{acme}/test").status_code == 403
    assert acme in ids(ana)


def test_token_scopes_and_the_session_s_csrf(site: Site) -> None:
    user = next(u for u in site.store.read(account_rows.users) if u.email == ACME)
    reader = httpx.Client(base_url=site.url, timeout=30, headers={
        "authorization": f"Bearer {new_token(site.store, user, 'reader', 'read')}"})
    site.clients[f"reader:{len(site.clients)}"] = reader
    assert reader.get(ALERTS).status_code == 200
    assert reader.get(f"{ALERTS}/log").status_code == 200
    assert reader.post(ALERTS, json={"channel": "email", "target": "r@acme-ops.example"}
                       ).status_code == 403
    browser = login(site, ACME)
    assert browser.get(ALERTS).status_code == 200
    body = {"channel": "email", "target": "s@acme-ops.example"}
    assert browser.post(ALERTS, json=body).status_code == 403  # no X-CSRF-Token
    page = browser.get("/settings/alerts").text
    csrf = page.split('data-csrf="', 1)[1].split('"', 1)[0]
    made = browser.post(ALERTS, json=body, headers={"x-csrf-token": csrf})
    assert made.status_code == 201
    assert browser.delete(f"{ALERTS}/{made.json()['id']}").status_code == 403
    assert browser.delete(f"{ALERTS}/{made.json()['id']}",
                          headers={"x-csrf-token": csrf}).status_code == 204


def test_secrets_and_slack_urls_are_never_in_an_answer(site: Site) -> None:
    api = site.api(ACME)
    given = "given-" + secrets.token_hex(8)
    path = "T0000/B0000/" + secrets.token_hex(12)
    answers: list[str] = []
    for body in ({"channel": "generic", "target": f"https://hooks.acme-ops.example/{path}",
                  "secret": given},
                 {"channel": "slack", "target": f"https://hooks.slack.com/services/{path}"},
                 {"channel": "discord", "target": f"https://discord.com/api/webhooks/{path}"},
                 {"channel": "teams", "target": f"https://acme.webhook.office.com/{path}"}):
        made = api.post(ALERTS, json=body)
        assert made.status_code == 201, made.text
        assert made.json()["secret"] == ""  # given, or none: nothing to show
        answers.append(made.text)
        tested = api.post(f"{ALERTS}/{made.json()['id']}/test")
        assert tested.status_code == 200 and tested.json()["delivered"] is False
        answers.append(tested.text)
    generated = api.post(ALERTS, json={"channel": "generic",
                                       "target": "https://hooks.acme-ops.example/gen"})
    made_secret = generated.json()["secret"]
    assert made_secret.startswith("whsec_") and len(made_secret) > 30
    answers += [api.get(ALERTS).text, api.get(f"{ALERTS}/log").text,
                site.api(ADMIN).get(ALERTS).text, site.api(ADMIN).get(f"{ALERTS}/log").text]
    for text in answers:
        assert path not in text and given not in text and made_secret not in text
    listed = {r["target"] for r in api.get(ALERTS).json()}
    assert {"https://hooks.slack.com/…", "https://discord.com/…"} <= listed


@pytest.mark.parametrize("target", ["http://127.0.0.1:9/hook", "http://169.254.169.254/",
                                    "http://[::1]:8080/", "https://192.168.1.1/x",
])
def test_a_private_webhook_address_is_refused(site: Site, target: str) -> None:
    api = site.api(ACME)
    before = ids(api)
    refused = api.post(ALERTS, json={"channel": "generic", "target": target})
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("webhook: ") and "alerts_allow_private" in detail
    assert ids(api) == before


def test_a_test_is_delivered_to_a_real_receiver_and_logged(private_site: Site) -> None:
    api = private_site.api(ACME)
    with receiver([204]) as hook:
        made = api.post(ALERTS, json={"channel": "generic", "target": hook.url})
        assert made.status_code == 201, made.text
        rule_id = made.json()["id"]
        assert any("plain http" in w for w in made.json()["warnings"])
        tested = api.post(f"{ALERTS}/{rule_id}/test")
        assert tested.status_code == 200
        result: dict[str, Any] = tested.json()
        assert result["delivered"] is True
        [request] = hook.requests
        assert request.headers["x-tlsscope-delivery"] == result["delivery"]["alerts"][0]["key"]
    delivery = result["delivery"]
    assert delivery["rule"] == rule_id and delivery["state"] == "delivered" and delivery["test"]
    [attempt] = delivery["tries"]
    assert attempt["outcome"] == "delivered" and attempt["status"] == 204
    [logged] = [d for d in api.get(f"{ALERTS}/log").json() if d["id"] == delivery["id"]]
    assert logged["tries"] == delivery["tries"] and logged["attempts"] == 1
    with receiver([503]) as hook:
        failing = api.post(ALERTS, json={"channel": "generic", "target": hook.url}).json()
        failed = api.post(f"{ALERTS}/{failing['id']}/test").json()
    assert failed["delivered"] is False and failed["delivery"]["state"] == "failed"
    assert failed["delivery"]["tries"][0]["status"] == 503
    assert "HTTP 503" in failed["delivery"]["last_error"]
    assert api.get(f"{ALERTS}/log", params={"limit": 0}).status_code == 422


def test_openapi_documents_the_alert_routes(site: Site) -> None:
    schema = site.client().get("/openapi.json").json()
    paths = schema["paths"]
    expected = {(ALERTS, "get"), (ALERTS, "post"), (f"{ALERTS}/{{rule_id}}", "delete"),
                (f"{ALERTS}/{{rule_id}}/test", "post"), (f"{ALERTS}/log", "get"),
                (f"{ALERTS}/findings/{{finding_id}}", "get")}
    for path, method in expected:
        operation = paths[path][method]
        assert operation["summary"] and "alerts" in operation["tags"], path
        assert operation["security"] == [{"HTTPBearer": []}], path
        assert all(answer["description"] and answer["description"] != "Successful Response"
                   for status, answer in operation["responses"].items()
                   if status != "422"), (path, method)
    new_rule = schema["components"]["schemas"]["NewRule"]
    assert new_rule["properties"]["channel"]["enum"] == ["email", "generic", "slack", "teams",
                                                         "discord"]
    assert set(new_rule["required"]) == {"channel", "target"}
