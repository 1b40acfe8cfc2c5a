"""The Alerts page under Settings (web/pages/alerts_pages.py), the alerts on a finding's page
and the digest choice on the Settings page, over real HTTP: rules added, listed, tested and
removed; each organisation's rules its own; secrets and Slack URLs never shown back; private
webhook addresses refused unless allowed; a test delivered to a real receiver on loopback."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets

import httpx
import pytest

from tests.support.hooks import receiver
from tests.support.site import XSS, Site, login
from tlsscope.alert import deliver, digest, log, rules
from tlsscope.app.scope import OPERATOR
from tlsscope.settings import Settings
from tlsscope.store import accounts as account_rows
from tlsscope.store import alerts_rows
from tlsscope.store.alerts_rows import NewAlert

pytestmark = pytest.mark.server

ADMIN = "admin@test.example"
ACME = "ana@acme.example"
ACME_READONLY = "carla@acme.example"
BETA = "bruno@beta.example"
PAGE = "/settings/alerts"
PRIVATE = Settings(alerts_allow_private=True, alerts_timeout=5.0)


def csrf_of(client: httpx.Client, path: str = PAGE) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def add_rule(client: httpx.Client, **fields: str | list[str]) -> httpx.Response:
    data: dict[str, str | list[str]] = {"csrf": csrf_of(client), "channel": "email",
                                        "quiet_critical": "1", **fields}
    return client.post(PAGE, data=data)


def rule_ids(page: str) -> set[int]:
    return {int(n) for n in re.findall(r'<tr id="rule-(\d+)"', page)}


def new_id(answer: httpx.Response) -> int:
    found = re.search(r"Rule (\d+) added", answer.text)
    assert found is not None, answer.text
    return int(found.group(1))


def test_a_member_adds_lists_and_removes_a_rule(site: Site) -> None:
    ana = login(site, ACME)
    page = ana.get(PAGE)
    assert page.status_code == 200 and 'id="new-rule"' in page.text
    assert 'href="/settings/alerts"' in ana.get("/settings").text  # linked from Settings
    made = add_rule(ana, target="oncall@acme-ops.example", domains="shop.example news.example",
                    min_severity="high", batch="hourly", quiet="22:00-07:00",
                    timezone="Europe/Lisbon", suppress_days="3", lang="pt",
                    events=["finding.opened", "finding.resolved"], kinds="certificate",
                    organisation="Beta Health")  # a member's choice of organisation is ignored
    assert made.status_code == 200
    rule_id = new_id(made)
    [shown] = [r for r in rules.listing(site.store, OPERATOR) if r.id == rule_id]
    assert shown.organisation == "Acme Retail" and shown.channel == "email"
    assert shown.domains == ["shop.example", "news.example"] and shown.batch == "hourly"
    assert (shown.min_severity, shown.quiet, shown.timezone) == ("high", "22:00-07:00",
                                                                 "Europe/Lisbon")
    assert (shown.suppress_days, shown.lang, shown.quiet_critical) == (3, "pt", True)
    assert shown.events == ["finding.opened", "finding.resolved"]
    assert shown.kinds == ["certificate"]
    listed = ana.get(PAGE).text
    assert rule_id in rule_ids(listed) and "oncall@acme-ops.example" in listed
    gone = ana.post(f"{PAGE}/{rule_id}/delete", data={"csrf": csrf_of(ana)})
    assert gone.status_code == 303 and gone.headers["location"] == PAGE
    assert rule_id not in rule_ids(ana.get(PAGE).text)
    assert ana.post(f"{PAGE}/{rule_id}/delete", data={"csrf": csrf_of(ana)}
                    ).status_code == 404  # removed: it does not exist any more


def test_an_address_at_a_monitored_domain_is_warned_about(site: Site) -> None:
    ana = login(site, ACME)
    made = add_rule(ana, target="postmaster@shop.example")
    assert made.status_code == 200
    assert "a domain this installation monitors" in made.text
    assert "smtp_url is not set" in made.text
    assert 'id="new-secret"' not in made.text  # mail has no secret


def test_an_admin_makes_installation_wide_and_organisation_rules(site: Site) -> None:
    admin = login(site, ADMIN)
    every = new_id(add_rule(admin, target="noc-pages@ops.example.net"))
    beta = new_id(add_rule(admin, target="noc-beta@ops.example.net",
                           organisation="Beta Health", domains="clinic.example"))
    by_id = {r.id: r for r in rules.listing(site.store, OPERATOR)}
    assert by_id[every].organisation == "" and by_id[beta].organisation == "Beta Health"
    page = admin.get(PAGE).text
    assert {every, beta} <= rule_ids(page) and "every domain" in page
    # Bruno sees Beta's, not the installation's; Ana neither.
    assert rule_ids(login(site, BETA).get(PAGE).text) >= {beta}
    assert every not in rule_ids(login(site, BETA).get(PAGE).text)
    assert not {every, beta} & rule_ids(login(site, ACME).get(PAGE).text)
    wrong = add_rule(admin, target="x@ops.example.net", organisation="Beta Health",
                     domains="shop.example")
    assert wrong.status_code == 400 and "not one of the organisation" in wrong.text


def test_tenancy_another_organisation_s_rules_do_not_exist(site: Site) -> None:
    ana = login(site, ACME)
    acme_rule = new_id(add_rule(ana, target="acme-only@acme-ops.example"))
    bruno = login(site, BETA)
    page = bruno.get(PAGE)
    assert page.status_code == 200
    assert acme_rule not in rule_ids(page.text) and "acme-only@" not in page.text
    for action in ("delete", "test"):
        answer = bruno.post(f"{PAGE}/{acme_rule}/{action}", data={"csrf": csrf_of(bruno)})
        assert answer.status_code == 404, action
    assert acme_rule in rule_ids(ana.get(PAGE).text)  # still there
    # A member cannot cover another organisation's domain either.
    refused = add_rule(bruno, target="b@beta-ops.example", domains="shop.example")
    assert refused.status_code == 400


def test_a_read_only_user_sees_the_rules_without_forms(site: Site) -> None:
    ana = login(site, ACME)
    acme_rule = new_id(add_rule(ana, target="seen-by-carla@acme-ops.example"))
    carla = login(site, ACME_READONLY)
    page = carla.get(PAGE)
    assert page.status_code == 200 and acme_rule in rule_ids(page.text)
    assert 'id="new-rule"' not in page.text and 'id="read-only"' in page.text
    assert f"{PAGE}/{acme_rule}/delete" not in page.text
    token = csrf_of(carla)
    assert carla.post(PAGE, data={"csrf": token, "channel": "email",
                                  "target": "c@acme-ops.example"}).status_code == 403
    for action in ("delete", "test"):
        assert carla.post(f"{PAGE}/{acme_rule}/{action}", data={"csrf": token}
                          ).status_code == 403


def test_forms_need_the_csrf_token(site: Site) -> None:
    ana = login(site, ACME)
    assert ana.post(PAGE, data={"channel": "email", "target": "z@acme-ops.example"}
                    ).status_code == 403
    assert site.client().get(PAGE).status_code == 303  # no session: to /login


def test_secrets_and_slack_urls_are_never_shown_back(site: Site) -> None:
    ana = login(site, ACME)
    given = "given-" + secrets.token_hex(8)
    path = "T0000/B0000/" + secrets.token_hex(12)
    slack = f"https://hooks.slack.com/services/{path}"
    signed = add_rule(ana, channel="generic", target=f"https://hooks.acme-ops.example/in/{path}x",
                      secret=given)
    assert signed.status_code == 200, signed.text
    made_slack = add_rule(ana, channel="slack", target=slack)
    assert made_slack.status_code == 200, made_slack.text
    generated = add_rule(ana, channel="generic", target="https://hooks.acme-ops.example/gen-page")
    found = re.search(r'<pre class="record" id="new-secret">([^<]+)</pre>', generated.text)
    assert found is not None and found.group(1).startswith("whsec_")
    made_secret = found.group(1)
    tested = ana.post(f"{PAGE}/{new_id(made_slack)}/test", data={"csrf": csrf_of(ana)})
    assert tested.status_code == 200 and 'id="tested"' in tested.text
    assert "was not delivered" in tested.text  # hooks.slack.com does not resolve here
    answers = [signed.text, made_slack.text, tested.text, ana.get(PAGE).text,
               ana.get("/settings").text, login(site, ADMIN).get(PAGE).text]
    for api in (site.api(ACME), site.api(ADMIN)):
        answers += [api.get("/api/v1/alerts").text, api.get("/api/v1/alerts/log").text]
    for text in answers:
        assert path not in text and given not in text and made_secret not in text
    assert "https://hooks.slack.com/…" in ana.get(PAGE).text  # the host, masked


@pytest.mark.parametrize("target", ["http://127.0.0.1:9/hook", "http://169.254.169.254/x",
                                    "http://[::1]/hook", "https://10.1.2.3/hook"])
def test_a_private_webhook_address_is_refused(site: Site, target: str) -> None:
    ana = login(site, ACME)
    before = rule_ids(ana.get(PAGE).text)
    refused = add_rule(ana, channel="generic", target=target)
    assert refused.status_code == 400
    error = re.search(r'<p class="error" role="alert" id="alert-error">([^<]+)</p>',
                      refused.text)
    assert error is not None and "alerts_allow_private" in error.group(1)
    assert 'id="new-rule"' in refused.text  # the form again, filled in
    assert rule_ids(ana.get(PAGE).text) == before


def test_the_test_button_delivers_to_a_real_receiver_and_the_log_shows_it(
        private_site: Site) -> None:
    ana = login(private_site, ACME)
    with receiver([204]) as hook:
        made = add_rule(ana, channel="generic", target=hook.url, secret="test-secret-1")
        assert made.status_code == 200, made.text
        assert "plain http" in made.text  # a warning, and no error: private is allowed here
        rule_id = new_id(made)
        tested = ana.post(f"{PAGE}/{rule_id}/test", data={"csrf": csrf_of(ana)})
        assert tested.status_code == 200
        assert f"The test through rule {rule_id} was delivered" in tested.text
        [request] = hook.requests
        assert request.path == "/hook" and request.headers["x-tlsscope-event"] == "test"
        assert request.headers["x-tlsscope-signature"].startswith("t=")
    [delivery] = [d for d in log.deliveries(private_site.store, OPERATOR) if d.rule == rule_id]
    assert delivery.state == "delivered" and delivery.test
    [attempt] = delivery.tries
    assert (attempt["outcome"], attempt["status"]) == ("delivered", 204)
    row = re.search(rf'<tr id="delivery-{delivery.id}">(.*?)</tr>', tested.text, re.S)
    assert row is not None
    assert "delivered" in row.group(1) and "204" in row.group(1)
    assert attempt["at"].strftime("%Y-%m-%d %H:%M:%S") in row.group(1)


def test_a_failing_receiver_s_attempt_and_error_are_shown_escaped(private_site: Site) -> None:
    ana = login(private_site, ACME)
    with receiver([302], location=f"https://elsewhere.example/{XSS}") as hook:
        rule_id = new_id(add_rule(ana, channel="generic", target=hook.url))
        tested = ana.post(f"{PAGE}/{rule_id}/test", data={"csrf": csrf_of(ana)})
    assert tested.status_code == 200 and "was not delivered" in tested.text
    assert "redirect" in tested.text and "302" in tested.text
    assert "<script>window" not in tested.text and "<img src=x" not in tested.text
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in tested.text
    [delivery] = [d for d in log.deliveries(private_site.store, OPERATOR) if d.rule == rule_id]
    assert delivery.state == "failed" and delivery.tries[0]["status"] == 302


def test_hostile_form_values_come_back_escaped(site: Site) -> None:
    ana = login(site, ACME)
    for fields in ({"target": XSS}, {"target": "ok@acme-ops.example", "kinds": XSS},
                   {"target": "ok@acme-ops.example", "timezone": XSS},
                   {"target": "ok@acme-ops.example", "domains": XSS}):
        answer = add_rule(ana, **fields)
        assert answer.status_code == 400, fields
        body = answer.text.split("</head>", 1)[1]
        assert "<script>window" not in body and "<img src=x" not in body, fields
        assert "&lt;script&gt;" in body or "&lt;img" in body, fields
    # An installation-wide rule's domains must be domain names too (app.scope.valid_domain):
    # markup is refused, and the refusal shows it inert.
    admin = login(site, ADMIN)
    refused = add_rule(admin, target="noc@ops.example.net", domains="<b>bold</b>.example")
    assert refused.status_code == 400 and "is not a domain name" in refused.text
    body = refused.text.split("</head>", 1)[1]
    assert "&lt;b&gt;bold&lt;/b&gt;.example" in body and "<b>bold</b>" not in body


def test_the_finding_page_shows_the_alerts_it_caused(private_site: Site) -> None:
    store = private_site.store
    admin_api = private_site.api(ADMIN)
    finding = admin_api.get("/api/v1/findings", params={"domain": "news.example"}).json()[0]
    finding_id = int(finding["id"])
    ana = login(private_site, ACME)
    with receiver([204]) as hook:
        acme_rule = new_id(add_rule(ana, channel="generic", target=hook.url))
        admin = login(private_site, ADMIN)
        every_rule = new_id(add_rule(admin, target="noc-finding@ops.example.net"))
        now = dt.datetime.now(dt.UTC)
        for rule, event, suppressed in ((acme_rule, "finding.opened", False),
                                        (acme_rule, "finding.opened", True),
                                        (every_rule, "finding.escalated", False)):
            store.write(alerts_rows.write_alert, NewAlert(
                key=f"al_web_{secrets.token_hex(8)}", rule=rule, event=event,
                domain="news.example", finding=finding_id,
                problem=f"finding:news.example:{finding_id}", severity="high",
                data=json.dumps({"title": f"A title with {XSS}"}),
                suppressed=suppressed, due_at=now, batched=False), now)
        [sent] = [d for d in log.deliveries(store, OPERATOR) if d.rule == acme_rule]
        assert deliver.deliver_due(store, PRIVATE, only=sent.id).delivered == 1
    page = ana.get(f"/findings/{finding_id}").text
    section = page.split('<section class="card" id="alerts">', 1)[1].split("</section>", 1)[0]
    assert f'id="delivery-{sent.id}"' in section and "finding.opened" in section
    assert "delivered" in section and 'id="suppressed"' in section
    assert "finding.escalated" not in section  # the installation's rule is not Ana's
    everything = login(private_site, ADMIN).get(f"/findings/{finding_id}").text
    assert "finding.escalated" in everything
    log_page = ana.get(PAGE).text
    assert f'href="/findings/{finding_id}"' in log_page
    assert "<script>window" not in log_page and "&lt;script&gt;" in log_page
    api = private_site.api(ACME).get(f"/api/v1/alerts/findings/{finding_id}").json()
    assert [d["id"] for d in api["deliveries"]] == [sent.id]
    assert [s["event"] for s in api["suppressed"]] == ["finding.opened"]
    assert private_site.api(BETA).get(f"/api/v1/alerts/findings/{finding_id}"
                                      ).status_code == 404


def test_a_user_chooses_their_digest_on_the_settings_page(site: Site) -> None:
    carla = login(site, ACME_READONLY)  # read-only users may still read a digest
    user = next(u for u in site.store.read(account_rows.users) if u.email == ACME_READONLY)
    page = carla.get("/settings").text
    assert 'id="digest"' in page and '<option value="" selected>' in page
    chosen = carla.post("/settings/digest", data={"csrf": csrf_of(carla, "/settings"),
                                                  "period": "week"})
    assert chosen.status_code == 200 and "Digest: every week." in chosen.text
    assert digest.subscription(site.store, user.id) == "week"
    assert '<option value="week" selected>' in carla.get("/settings").text
    wrong = carla.post("/settings/digest", data={"csrf": csrf_of(carla, "/settings"),
                                                 "period": "hourly"})
    assert wrong.status_code == 400
    assert carla.post("/settings/digest", data={"csrf": csrf_of(carla, "/settings"),
                                                "period": ""}).status_code == 200
    assert digest.subscription(site.store, user.id) == ""
