"""Suppression, escalation, severity floors, confirmation, quiet hours and batching, over
simulated days: a real finding stored on a real SQLite store, then the changes the
analyses would make of it, each handed to the outbox inside its own write transaction as
tlsscope.app.freshness hands them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.support.hooks import receiver
from tests.support.ingest import ingest_paths
from tests.support.scenarios import write
from tests.support.stories import DOMAIN, expiring_mx2
from tlsscope.alert import deliver, log, outbox, rules
from tlsscope.app import events, freshness
from tlsscope.app.scope import OPERATOR
from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.store import tables as t
from tlsscope.store.findings_rows import Change

DAY0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
SETTINGS = Settings(alerts_allow_private=True)


@pytest.fixture
def finding(store: Store, tmp_path: Path) -> Change:
    """A stored certificate finding (computed before any rule existed: nothing was said)."""
    ingest_paths(store, write(tmp_path, DOMAIN, [d for d in expiring_mx2()
                                                 if d.day <= dt.date(2026, 2, 12)]))
    freshness.findings_now(store, now=DAY0 - dt.timedelta(days=20))
    with store.engine.connect() as connection:
        fid, fingerprint, kind = connection.execute(
            select(t.findings.c.id, t.findings.c.fingerprint, t.findings.c.kind)).one()
    return Change(int(fid), DOMAIN, fingerprint, kind, "open", "high", "", "")


def change(store: Store, base: Change, at: dt.datetime, status: str, severity: str,
           before: tuple[str, str] = ("", "")) -> None:
    done = base._replace(status=status, severity=severity, before_status=before[0],
                         before_severity=before[1])
    store.write(events.finding_changed, done, at)


def told(store: Store) -> list[tuple[str, bool]]:
    outbox.fan_out(store)  # the changes' events become alerts
    with store.engine.connect() as connection:
        return [(str(e), bool(s)) for e, s in connection.execute(
            select(t.alerts.c.event, t.alerts.c.suppressed).order_by(t.alerts.c.id))]


def test_a_flapping_problem_keeps_the_rule_warned_and_is_told_fixed_once_a_week(
        store: Store, finding: Change) -> None:
    rules.create(store, OPERATOR, channel="email", target="ops@ops.example",
                 min_severity="medium")
    day = dt.timedelta(days=1)
    change(store, finding, DAY0, "open", "high")
    change(store, finding, DAY0 + day, "resolved", "high", ("open", "high"))
    change(store, finding, DAY0 + 2 * day, "open", "high", ("resolved", "high"))  # broken again
    change(store, finding, DAY0 + 3 * day, "resolved", "high", ("open", "high"))  # fixed again
    change(store, finding, DAY0 + 4 * day, "open", "critical", ("resolved", "high"))  # worse
    change(store, finding, DAY0 + 5 * day, "open", "high", ("open", "critical"))  # milder
    change(store, finding, DAY0 + 6 * day, "open", "critical", ("open", "high"))  # as told
    change(store, finding, DAY0 + 12 * day, "resolved", "critical", ("open", "critical"))
    change(store, finding, DAY0 + 13 * day, "open", "high", ("resolved", "critical"))
    assert told(store) == [
        ("finding.opened", False), ("finding.resolved", False),
        ("finding.opened", False),  # a rule told "fixed" always hears it is broken again
        ("finding.resolved", True),  # the same good news twice in 7 days: kept back
        ("finding.escalated", False),  # the rule still thinks it open: it got worse
        ("finding.resolved", False), ("finding.opened", False)]


def test_reopened_and_escalated_over_several_passes_each_alert_once(
        store: Store, finding: Change) -> None:
    """Each pass deletes the events it read, and SQLite hands their ids out again: the
    alerts of a later pass must not collide with the earlier ones."""
    rules.create(store, OPERATOR, channel="email", target="ops@ops.example",
                 min_severity="medium")
    hour = dt.timedelta(hours=1)
    steps = [("open", "high", ("", "")), ("resolved", "high", ("open", "high")),
             ("open", "high", ("resolved", "high")), ("open", "critical", ("open", "high")),
             ("resolved", "critical", ("open", "critical")),
             ("open", "critical", ("resolved", "critical"))]
    for index, (status, severity, before) in enumerate(steps):
        change(store, finding, DAY0 + index * 10 * dt.timedelta(days=1) + hour, status,
               severity, before)
        assert told(store)[-1][0] == ("finding.resolved" if status == "resolved" else
                                      "finding.escalated" if before[0] == "open" else
                                      "finding.opened")
    with store.engine.connect() as connection:
        alerts = connection.execute(select(t.alerts.c.key, t.alerts.c.delivery)).all()
        deliveries = connection.execute(select(t.alert_deliveries.c.id)).scalars().all()
    assert len(alerts) == len(steps) == len({key for key, _ in alerts})
    assert sorted(delivery for _, delivery in alerts) == sorted(deliveries)


def test_escalation_and_the_severity_floor(store: Store, finding: Change) -> None:
    rules.create(store, OPERATOR, channel="email", target="ops@ops.example",
                 min_severity="high")
    change(store, finding, DAY0, "open", "medium")  # under the floor: nothing
    change(store, finding, DAY0 + dt.timedelta(hours=1), "open", "high", ("open", "medium"))
    change(store, finding, DAY0 + dt.timedelta(hours=2), "open", "critical", ("open", "high"))
    change(store, finding, DAY0 + dt.timedelta(hours=3), "likely-fixed", "critical",
           ("open", "critical"))
    change(store, finding, DAY0 + dt.timedelta(hours=4), "resolved", "critical",
           ("likely-fixed", "critical"))
    assert told(store) == [("finding.opened", False), ("finding.escalated", False),
                           ("finding.likely_fixed", False), ("finding.resolved", False)]
    (delivery, *_) = log.deliveries(store, OPERATOR)
    assert delivery.alerts[0]["event"] == "finding.resolved"
    with store.engine.connect() as connection:  # each change's event was taken once
        assert connection.execute(select(t.alert_events.c.id)).all() == []


def test_unconfirmed_and_report_loop_findings_are_never_told(store: Store,
                                                              finding: Change) -> None:
    rules.create(store, OPERATOR, channel="email", target="ops@ops.example",
                 min_severity="info")
    with store.engine.begin() as connection:
        data = json.loads(connection.execute(select(t.findings.c.data)).scalar_one())
        for flag, value in (("confirmed", False), ("report_loop", False)):
            data[flag] = value
        connection.execute(update(t.findings).values(data=json.dumps(data)))
    change(store, finding, DAY0, "open", "medium")
    assert told(store) == []
    with store.engine.begin() as connection:
        data.update(confirmed=True, report_loop=True)
        connection.execute(update(t.findings).values(data=json.dumps(data)))
    change(store, finding, DAY0 + dt.timedelta(hours=1), "open", "high", ("open", "medium"))
    assert told(store) == []
    with store.engine.begin() as connection:
        data.update(report_loop=False)
        connection.execute(update(t.findings).values(data=json.dumps(data)))
    change(store, finding, DAY0 + dt.timedelta(hours=2), "open", "high", ("open", "high"))
    assert told(store) == [("finding.opened", False)]


def test_rules_filter_by_organisation_domain_kind_and_event(store: Store,
                                                            finding: Change) -> None:
    from tlsscope.app import accounts

    accounts.assign(store, DOMAIN, "Acme")
    accounts.assign(store, "other.example", "Beta")
    rules.create(store, OPERATOR, channel="email", target="a@acme.example", organisation="Acme")
    rules.create(store, OPERATOR, channel="email", target="b@beta.example", organisation="Beta")
    rules.create(store, OPERATOR, channel="email", target="c@ops.example",
                 domains=["other.example"])
    rules.create(store, OPERATOR, channel="email", target="d@ops.example", kinds=["dane"])
    rules.create(store, OPERATOR, channel="email", target="e@ops.example",
                 events=["finding.resolved"])
    everything = rules.create(store, OPERATOR, channel="email", target="f@ops.example")
    change(store, finding, DAY0, "open", "high")
    change(store, finding, DAY0 + dt.timedelta(hours=1), "resolved", "high", ("open", "high"))
    outbox.fan_out(store)
    with store.engine.connect() as connection:
        heard = [(int(r), str(e)) for r, e in connection.execute(
            select(t.alerts.c.rule, t.alerts.c.event).order_by(t.alerts.c.id))]
    acme = next(r.id for r in rules.listing(store, OPERATOR) if r.organisation == "Acme")
    # The Beta rule, the other domain's, the DANE one hear nothing; the resolved-only rule
    # was never told it opened, so hears nothing of its end either.
    assert heard == [(acme, "finding.opened"), (everything.id, "finding.opened"),
                     (acme, "finding.resolved"), (everything.id, "finding.resolved")]
    with pytest.raises(Exception, match="not one of the organisation's domains"):
        rules.create(store, OPERATOR, channel="email", target="x@beta.example",
                     organisation="Beta", domains=[DOMAIN])


def test_quiet_hours_hold_alerts_and_send_them_together_but_critical_goes_through(
        store: Store, finding: Change) -> None:
    with receiver([204]) as hook:
        rules.create(store, OPERATOR, channel="slack", target=hook.url, quiet="22:00-07:00",
                     timezone="Europe/Lisbon", min_severity="medium")
        night = dt.datetime(2026, 1, 15, 23, 30, tzinfo=dt.UTC)
        change(store, finding, night, "open", "high")
        change(store, finding, night + dt.timedelta(minutes=10), "open", "critical",
               ("open", "high"))  # critical: sent at once
        assert deliver.deliver_due(store, SETTINGS, clock=lambda: night + dt.timedelta(
            minutes=11)).counts() == (1, 0, 0)
        assert "Problem got worse" in hook.requests[0].body.decode()
        assert deliver.deliver_due(store, SETTINGS, clock=lambda: dt.datetime(
            2026, 1, 16, 6, 59, tzinfo=dt.UTC)).counts() == (0, 0, 0)
        assert deliver.deliver_due(store, SETTINGS, clock=lambda: dt.datetime(
            2026, 1, 16, 7, 0, 1, tzinfo=dt.UTC)).counts() == (1, 0, 0)
        assert "New problem" in hook.requests[1].body.decode()


def test_an_hourly_batch_is_one_message_with_every_alert_of_the_hour(
        store: Store, finding: Change) -> None:
    with receiver([204]) as hook:
        rules.create(store, OPERATOR, channel="discord", target=hook.url, batch="hourly",
                     min_severity="info")
        ten = dt.datetime(2026, 3, 2, 10, 5, tzinfo=dt.UTC)
        change(store, finding, ten, "open", "medium")
        change(store, finding, ten + dt.timedelta(minutes=20), "open", "high",
               ("open", "medium"))
        change(store, finding, ten + dt.timedelta(minutes=40), "resolved", "high",
               ("open", "high"))
        assert deliver.deliver_due(store, SETTINGS, clock=lambda: ten + dt.timedelta(
            minutes=50)).counts() == (0, 0, 0)
        assert deliver.deliver_due(store, SETTINGS, clock=lambda: dt.datetime(
            2026, 3, 2, 11, 0, 5, tzinfo=dt.UTC)).counts() == (1, 0, 0)
        (request,) = hook.requests
        embeds = json.loads(request.body)["embeds"]
        assert [e["title"].split(":")[0] for e in embeds] == [
            "New problem", "Problem got worse", "Problem resolved"]
    (delivery,) = log.deliveries(store, OPERATOR)
    assert len(delivery.alerts) == 3 and delivery.state == "delivered"


def test_alert_ids_are_the_installation_s_own(store: Store, finding: Change, tmp_path: Path,
                                              migrated_sqlite: Path) -> None:
    """The same change under the same rule id in two installations: two ids (a receiver
    that hears both dedupes on the id), each stable within its installation."""
    from tests.support import sqlite

    (tmp_path / "other").mkdir()
    other = Store.open(sqlite.copy(migrated_sqlite, tmp_path / "other"))
    try:
        keys = []
        for each in (store, other):
            made = rules.create(each, OPERATOR, channel="email", target="ops@ops.example")
            alert = outbox._new(each.write(outbox.salt), rules.one(each, OPERATOR, made.id),
                                "finding.opened", DOMAIN, 1, "finding:x", "high", {}, "1",
                                False, DAY0)
            keys.append(alert.key)
        assert keys[0] != keys[1]
        assert store.write(outbox.salt) == store.write(outbox.salt)
    finally:
        other.close()
