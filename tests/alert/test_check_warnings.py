"""A live check's predictive warnings, told before any report shows a failure: a
certificate crossing 14, 7 and 1 days (each once, more severe under enforce), a policy
changed under the same id, MX hosts outside the policy; and the receivers' alerts: a domain
whose reports stopped, a mailbox unreachable."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.ingest import ingest_paths
from tests.support.scenarios import write
from tests.support.stories import DOMAIN, healthy
from tlsscope.alert import outbox, rules
from tlsscope.app import accounts
from tlsscope.app.checks import keep
from tlsscope.app.scope import OPERATOR
from tlsscope.live_check import LiveCheck, Step
from tlsscope.store import Store
from tlsscope.store import tables as t

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
EXPIRES = NOW + dt.timedelta(days=13, hours=2)


def check(at: dt.datetime, *steps: Step, policy: str = "a" * 64,
          mode: str = "enforce") -> LiveCheck:
    return LiveCheck(domain=DOMAIN, checked_at=at, status="warning", seconds=1.0,
                     steps=list(steps), mx_hosts=["mx1.example.com", "mx2.example.com"],
                     sts_id="20260301", policy_sha256=policy, policy_mx=["mx1.example.com"],
                     policy_mode=mode)


def mx_step(address: str) -> Step:
    return Step(step="mx", target=f"mx2.example.com [{address}]", status="warning",
                line="mx2.example.com: its certificate expires soon.",
                host="mx2.example.com", expires=EXPIRES.isoformat())


def alerts(store: Store) -> list[tuple[str, str, str]]:
    outbox.fan_out(store)  # the stored checks' events become alerts
    with store.engine.connect() as connection:
        return [(json.loads(d)["kind"], s, json.loads(d)["title"]) for d, s in connection.execute(
            select(t.alerts.c.data, t.alerts.c.severity).order_by(t.alerts.c.id))]


def test_a_certificate_is_told_at_each_threshold_once(store: Store) -> None:
    rules.create(store, OPERATOR, channel="email", target="ops@ops.example",
                 min_severity="info")
    # Two addresses of one MX: one warning, both addresses named.
    keep(store, check(NOW, mx_step("192.0.2.2"), mx_step("2001:db8::2")))
    keep(store, check(NOW + dt.timedelta(days=1), mx_step("192.0.2.2")))  # still 12 days
    keep(store, check(NOW + dt.timedelta(days=6, hours=3), mx_step("192.0.2.2")))  # 6 days
    keep(store, check(NOW + dt.timedelta(days=12, hours=3), mx_step("192.0.2.2")))  # 0 days
    keep(store, check(NOW + dt.timedelta(days=14), mx_step("192.0.2.2")))  # expired
    assert [(kind, severity) for kind, severity, _ in alerts(store)] == [
        ("certificate-expiry", "medium"), ("certificate-expiry", "high"),
        ("certificate-expiry", "critical"), ("certificate-expiry", "critical")]
    titles = [title for _, _, title in alerts(store)]
    assert titles[0] == "The certificate of mx2.example.com expires in 13 days"
    assert titles[2] == "The certificate of mx2.example.com expires within a day"
    assert titles[3] == "The certificate of mx2.example.com has expired"
    with store.engine.connect() as connection:
        first = json.loads(connection.execute(select(t.alerts.c.data).order_by(t.alerts.c.id)
                                              ).scalars().all()[0])
    assert first["receiving_ip"] == "192.0.2.2, 2001:db8::2"


def test_under_testing_mode_the_same_warning_is_milder(store: Store) -> None:
    rules.create(store, OPERATOR, channel="email", target="ops@ops.example",
                 min_severity="medium")
    keep(store, check(NOW, mx_step("192.0.2.2"), mode="testing"))  # 13 days: info, filtered
    keep(store, check(NOW + dt.timedelta(days=6, hours=3), mx_step("192.0.2.2"),
                      mode="testing"))
    assert [(k, s) for k, s, _ in alerts(store)] == [("certificate-expiry", "medium")]


def test_policy_changed_under_the_same_id_and_mx_outside_the_policy(store: Store) -> None:
    rules.create(store, OPERATOR, channel="email", target="ops@ops.example")
    drift = Step(step="mx-drift", target=DOMAIN, status="warning", line="changed",
                 uncovered=["mx2.example.com"])
    same_id = Step(step="mta-sts-policy-id", target=f"_mta-sts.{DOMAIN}", status="warning",
                   line="The policy file changed")
    keep(store, check(NOW, drift, same_id))
    keep(store, check(NOW + dt.timedelta(hours=6), drift, same_id))  # told already
    keep(store, check(NOW + dt.timedelta(days=1), same_id, policy="b" * 64))  # another change
    assert [(k, s) for k, s, _ in alerts(store)] == [
        ("policy-id-unchanged", "medium"), ("mx-outside-policy", "high"),
        ("policy-id-unchanged", "medium")]


def test_a_silent_domain_is_told_once_per_silence(store: Store, tmp_path: Path) -> None:
    accounts.assign(store, DOMAIN, "Acme")
    rules.create(store, OPERATOR, channel="email", target="ops@ops.example",
                 organisation="Acme")
    from tlsscope.app import freshness

    ingest_paths(store, write(tmp_path, DOMAIN, healthy(10)))  # 1..10 February
    freshness.rollups_now(store)
    assert outbox.silence(store, 3, now=dt.datetime(2026, 2, 13, 12, tzinfo=dt.UTC)) == 0
    late = dt.datetime(2026, 2, 14, 12, tzinfo=dt.UTC)
    assert outbox.silence(store, 3, now=late) == 1
    assert outbox.silence(store, 3, now=late + dt.timedelta(days=1)) == 0  # the same silence
    ((kind, severity, title),) = alerts(store)
    assert (kind, severity) == ("silent-domain", "medium")
    assert title == f"No TLS report for {DOMAIN} for 4 days"
    assert outbox.silence(store, 0, now=late) == 0  # 0: never


def test_an_unreachable_mailbox_is_told_to_the_installations_rules(store: Store) -> None:
    accounts.assign(store, DOMAIN, "Acme")
    rules.create(store, OPERATOR, channel="email", target="acme@acme.example",
                 organisation="Acme")
    rules.create(store, OPERATOR, channel="email", target="ops@ops.example", lang="pt")
    since = NOW - dt.timedelta(hours=1)
    assert outbox.receiver_down(store, "imaps://tls@mail.example:993/INBOX", since,
                                "OSError: connection refused", now=NOW) == 1
    assert outbox.receiver_down(store, "imaps://tls@mail.example:993/INBOX", since,
                                "OSError: connection refused", now=NOW) == 0
    ((kind, severity, title),) = alerts(store)
    assert (kind, severity) == ("receiver-down", "high")
    assert title == "A caixa de e-mail imaps://tls@mail.example:993/INBOX está inacessível"


def test_serves_mailbox_health_tells_once_per_outage(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from tlsscope import serve
    from tlsscope.settings import Settings

    rules.create(store, OPERATOR, channel="email", target="ops@ops.example")
    monkeypatch.setattr(serve, "MAILBOX_DOWN_SECONDS", 0.0)
    health = serve._mailbox_health(store, Settings(imap="imaps://tls@mail.example/INBOX"))
    health("OSError: connection refused")
    health("OSError: connection refused")  # the same outage: told once
    health(None)  # reachable again
    health("TimeoutError: timed out")  # a new outage, the same day: the same problem
    kinds = [kind for kind, _, _ in alerts(store)]
    assert kinds == ["receiver-down"]
