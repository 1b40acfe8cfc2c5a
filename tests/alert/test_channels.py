"""Each channel's message, sent for real on loopback: mail through an SMTP relay (plain and
with required STARTTLS) in the rule's language with both parts; Slack, Teams and Discord
payloads in their documented shapes with hostile strings escaped; and the address rule: a
webhook at a private address is refused, a redirect is never followed."""

from __future__ import annotations

import datetime as dt
import json
import re
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.support.hooks import receiver
from tests.support.mailsink import mail_sink, parts
from tlsscope.alert import channels, deliver, log, render, rules
from tlsscope.app.scope import OPERATOR
from tlsscope.errors import Invalid
from tlsscope.settings import Settings
from tlsscope.store import Store, alerts_rows

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
HOSTILE = ("mx1.<script>alert(1)</script>\u202eevil.example @everyone **bold** "
           "[click](http://evil.example) & \ud800 " + "x" * 5000)


def hostile_alert(event: str = "finding.opened") -> dict[str, Any]:
    return {"key": "al_" + "0" * 32, "event": event, "domain": "example.com",
            "finding": 7, "severity": "high", "created_at": NOW, "data": {
                "finding_id": 7, "domain": "example.com", "kind": "certificate",
                "severity": "high", "before_severity": "", "status": "open",
                "title": f"Certificate of {HOSTILE}", "explanation": f"Seen at {HOSTILE}.",
                "fix": [f"Renew {HOSTILE}"], "mx_host": HOSTILE, "receiving_ip": "192.0.2.1",
                "result_type": "certificate-expired", "first_seen": "2026-02-08",
                "last_seen": "2026-02-12", "sessions": 12345, "reporters": [HOSTILE],
                "mode": "enforce"}}


def test_slack_payload_has_block_kit_shape_and_escapes() -> None:
    payload = render.slack([hostile_alert(), hostile_alert("finding.resolved")], "en",
                           "https://tlsscope.example.net")
    assert isinstance(payload["text"], str) and payload["text"]
    assert len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        assert block["type"] in {"header", "section", "context", "actions", "divider"}
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert block["text"]["type"] == "mrkdwn" and len(block["text"]["text"]) <= 3000
            assert "<script" not in block["text"]["text"] and "&lt;script&gt;" in block[
                "text"]["text"]
        if block["type"] == "actions":
            (button,) = block["elements"]
            assert button["url"] == "https://tlsscope.example.net/findings/7"
    text = json.dumps(payload)
    assert "\\u202e" not in text.replace("\\\\u202e", "")  # the override is shown, not obeyed


def test_teams_payload_is_an_adaptive_card_message() -> None:
    payload = render.teams([hostile_alert()], "pt", "https://tlsscope.example.net")
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert {item["type"] for item in card["body"]} <= {"TextBlock", "FactSet"}
    assert card["body"][0]["text"].startswith("Novo problema")
    assert card["actions"][0]["type"] == "Action.OpenUrl"
    assert "[click](" not in json.dumps(card)  # markdown links from a report are inert


def test_discord_payload_respects_its_limits_and_pings_nobody() -> None:
    payload = render.discord([hostile_alert()] * 12, "en", "", NOW)
    assert payload["allowed_mentions"] == {"parse": []}
    assert 1 <= len(payload["embeds"]) <= 10
    total = 0
    for embed in payload["embeds"]:
        assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
        assert all(len(f["value"]) <= 1024 and len(f["name"]) <= 256 for f in embed["fields"])
        total += len(embed["title"]) + len(embed["description"]) + sum(
            len(f["name"]) + len(f["value"]) for f in embed["fields"])
        assert "**bold**" not in embed["description"]
    assert total <= 6000


def test_generic_body_is_valid_json_with_the_contract_fields() -> None:
    body = render.generic(hostile_alert(), "https://t.example", NOW)
    encoded = json.dumps(body)  # a lone surrogate would not encode
    assert body["id"] == "al_" + "0" * 32 and body["sent_at"] == "2026-03-02T10:00:00Z"
    assert body["finding"]["url"] == "https://t.example/findings/7"
    assert "\ud800" not in encoded and body["finding"]["sessions"] == 12345


def _numbered(count: int, event: str = "finding.opened") -> list[dict[str, Any]]:
    out = []
    for index in range(count):
        alert = hostile_alert(event)
        alert["data"] = {**alert["data"], "title": f"Problem number {index:03d}",
                         "domain": f"d{index:03d}.example"}
        out.append(alert)
    return out


def _named(text: str, count: int) -> set[int]:
    return {index for index in range(count) if f"Problem number {index:03d}" in text}


@pytest.mark.parametrize("count", [1, 10, 11, 40, 300])
def test_a_batch_in_a_chat_message_names_every_alert_or_counts_the_rest(count: int) -> None:
    """A message is one attempt: every alert of the batch is in it, in full, by its title, or
    counted in a last block that links to the delivery log; within each service's limits."""
    alerts = _numbered(count)
    base = "https://t.example"
    slack = render.slack(alerts, "en", base)
    teams = render.teams(alerts, "en", base)["attachments"][0]["content"]
    discord = render.discord(alerts, "en", base, NOW)
    assert len(slack["blocks"]) <= 50 and len(discord["embeds"]) <= 10
    assert sum(len(e["title"]) + len(e["description"]) + sum(
        len(f["name"]) + len(f["value"]) for f in e["fields"])
        for e in discord["embeds"]) <= 6000
    in_full = (sum(block["type"] == "header" for block in slack["blocks"]),
               sum(item.get("size") == "Medium" for item in teams["body"]),
               sum(embed["title"] != "More alerts" for embed in discord["embeds"]))
    for payload, full in zip((slack, teams, discord), in_full, strict=True):
        text = json.dumps(payload, ensure_ascii=False)
        named = _named(text, count)
        assert named == set(range(len(named)))  # in order, none skipped
        left = re.findall(r"and (\d+) more, in the delivery log", text)
        if len(named) < count:  # the titles that did not fit are counted
            assert left and set(left) == {str(count - len(named))}
        else:
            assert left == []
        assert full == count or full <= 9
        assert (f"{base}/settings/alerts" in text) == (full < count)


def test_a_fixed_problem_reads_as_good_news() -> None:
    opened, fixed = hostile_alert(), hostile_alert("finding.resolved")
    for payload in (render.slack([fixed], "en", ""), render.discord([fixed], "en", "", NOW),
                    render.teams([fixed], "en", "")):
        text = json.dumps(payload)
        assert "What to do" not in text and "Renew" not in text and "it was high" in text
        assert "nothing more to do" in text
    assert render.discord([fixed], "en", "", NOW)["embeds"][0]["color"] != render.discord(
        [opened], "en", "", NOW)["embeds"][0]["color"]
    message = render.mail([fixed], "pt", "", "t@t.example", "o@o.example", NOW)
    text, html = parts(message)
    assert "O que estava mal" in text and "O que fazer" not in text and "era " in text
    assert "O que estava mal" in html and "O que fazer" not in html
    opened_text, _ = parts(render.mail([opened], "en", "", "t@t.example", "o@o.example", NOW))
    assert "What is wrong" in opened_text and "What to do" in opened_text


def test_a_test_alert_says_what_it_is_in_the_generic_body() -> None:
    sample = {"key": "al_test", "event": "test", "domain": "", "data": {}}
    body = render.generic(sample, "", NOW, "pt")
    assert body["event"] == "test" and body["finding"]["title"] == "Isto é um alerta de teste"
    assert body["finding"]["explanation"] and body["finding"]["severity"] == "info"


def _rule_and_alert(store: Store, channel: str, target: str, lang: str = "en") -> int:
    made = rules.create(store, OPERATOR, channel=channel, target=target, lang=lang,
                        min_severity="info")
    alert = hostile_alert()
    store.write(alerts_rows.write_alert, alerts_rows.NewAlert(
        key=alert["key"], rule=made.id, event=alert["event"], domain="example.com",
        finding=None, problem="p", severity="high", data=json.dumps(alert["data"]),
        suppressed=False, due_at=NOW, batched=False), NOW)
    return made.id


def test_mail_goes_through_the_relay_with_both_parts_in_the_recipients_language(
        store: Store) -> None:
    with mail_sink() as (sink, port):
        _rule_and_alert(store, "email", "ops@ops.example", "pt")
        settings = Settings(smtp_url=f"smtp+plain://127.0.0.1:{port}",
                            mail_from="tlsscope@tlsrpt.example.net",
                            public_url="https://tlsrpt.example.net")
        assert deliver.deliver_due(store, settings, clock=lambda: NOW).delivered == 1
    ((to, message),) = sink.mails
    assert to == ["ops@ops.example"] and message["To"] == "ops@ops.example"
    assert message["From"] == "tlsscope@tlsrpt.example.net"
    assert message["Subject"].startswith("[tlsscope] Novo problema: ")
    assert message["Auto-Submitted"] == "auto-generated" and message["Content-Language"] == "pt"
    text, html = parts(message)
    assert "O que fazer" in text and "Gravidade: alta" in text and "Desde: 2026-02-08" in text
    assert "https://tlsrpt.example.net/findings/7" in text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="https://tlsrpt.example.net/findings/7"' in html
    assert "\u202e" not in text and "\\u202e" in text


def test_starttls_is_required_by_smtp_urls_and_verified(store: Store, tmp_path: Path) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("relay.test.example").configure_cert(context)
    good = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(good)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    _rule_and_alert(store, "email", "ops@ops.example")
    with mail_sink(context) as (sink, port):
        # The relay's name must match its certificate: a name that is not in it fails.
        wrong = Settings(smtp_url=f"smtp://127.0.0.1:{port}", check_ca_file=str(ca_file))
        assert deliver.deliver_due(store, wrong, clock=lambda: NOW).retrying == 1
        assert "certificate" in log.deliveries(store, OPERATOR)[0].last_error.lower()
    with mail_sink() as (sink, port):  # no STARTTLS offered: refused, not sent in the clear
        plain = Settings(smtp_url=f"smtp://127.0.0.1:{port}", check_ca_file=str(ca_file))
        later = NOW + dt.timedelta(minutes=2)
        assert deliver.deliver_due(store, plain, clock=lambda: later).retrying == 1
        assert sink.mails == [] and "STARTTLS" in log.deliveries(store, OPERATOR)[0].last_error
    with mail_sink(good) as (sink, port):  # a relay whose certificate names it: sent
        ok = Settings(smtp_url=f"smtp://127.0.0.1:{port}", check_ca_file=str(ca_file))
        later = NOW + dt.timedelta(minutes=10)
        assert deliver.deliver_due(store, ok, clock=lambda: later).delivered == 1
        assert len(sink.mails) == 1


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/hook", "https://10.1.2.3/hook", "http://169.254.169.254/latest",
    "http://[::ffff:127.0.0.1]/x", "http://[64:ff9b::a9fe:a9fe]/x", "http://0x7f000001/x",
    "http://localhost:9/hook"])
def test_webhooks_at_private_addresses_are_refused(store: Store, url: str) -> None:
    settings = Settings()
    with pytest.raises(Invalid, match="alerts_allow_private"):
        rules.create(store, OPERATOR, channel="generic", target=url,
                     check_target=lambda u: channels.vet(u, settings))


def test_a_private_address_is_refused_at_sending_too_and_redirects_are_not_followed(
        store: Store) -> None:
    with receiver([204]) as inside, receiver([302], location=inside.url) as hook:
        _rule_and_alert(store, "generic", hook.url)
        # Made while private addresses were allowed, sent after they no longer are:
        refused = deliver.deliver_due(store, Settings(), clock=lambda: NOW)
        assert refused.counts() == (0, 1, 0) and hook.requests == []
        assert "refused" in log.deliveries(store, OPERATOR)[0].last_error
        later = NOW + dt.timedelta(minutes=2)
        allowed = Settings(alerts_allow_private=True)
        # A redirect is not followed, and fails at once: trying the same URL again for
        # ten hours cannot make it the webhook's own.
        assert deliver.deliver_due(store, allowed, clock=lambda: later).counts() == (0, 0, 1)
        assert len(hook.requests) == 1 and inside.requests == []
        (delivery,) = log.deliveries(store, OPERATOR)
        assert "redirect" in delivery.last_error and "not followed" in delivery.last_error
        assert delivery.state == "failed"


def test_a_gone_webhook_fails_at_once_instead_of_retrying(store: Store) -> None:
    with receiver([410]) as hook:
        _rule_and_alert(store, "slack", hook.url)
        done = deliver.deliver_due(store, Settings(alerts_allow_private=True),
                                   clock=lambda: NOW)
    assert done.counts() == (0, 0, 1)
    assert log.deliveries(store, OPERATOR)[0].state == "failed"


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_timeout(store: Store) -> None:
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def trickle() -> None:
        client, _ = listener.accept()
        with client:
            client.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                if stop.is_set():
                    return
                try:
                    client.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.2)  # each byte within the socket timeout: only a deadline helps

    threading.Thread(target=trickle, daemon=True).start()
    try:
        _rule_and_alert(store, "generic", f"http://127.0.0.1:{port}/hook")
        started = time.monotonic()
        done = deliver.deliver_due(store, Settings(alerts_allow_private=True, alerts_timeout=1),
                                   clock=lambda: NOW)
        took = time.monotonic() - started
    finally:
        stop.set()
        listener.close()
    assert done.counts() == (0, 1, 0) and took < 3, took
    assert "no answer within 1 s" in log.deliveries(store, OPERATOR)[0].last_error


def test_a_silence_does_not_say_the_reports_hide_the_mode() -> None:
    silent = {"key": "al_s", "event": "receiver.silent", "domain": "example.com",
              "data": {"domain": "example.com", "title": "No TLS report", "severity": "medium",
                       "explanation": "The newest report is old."}}
    text, html = parts(render.mail([silent], "en", "", "t@t.example", "o@o.example", NOW))
    assert "do not say which MTA-STS mode" not in text + html
    assert "Severity: medium." in text
    opened = hostile_alert()
    opened["data"] = {**opened["data"], "mode": ""}
    text, _ = parts(render.mail([opened], "en", "", "t@t.example", "o@o.example", NOW))
    assert "do not say which MTA-STS mode" in text  # of a finding, it is what they say
