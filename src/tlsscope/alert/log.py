"""What was sent, as a user may see it: the delivery log with every attempt, the alerts a
finding caused, and a rule's test (a sample sent now)."""

from __future__ import annotations

import datetime as dt
import secrets

import msgspec

from tlsscope.alert import deliver, rules
from tlsscope.alert.deliver import Pass
from tlsscope.app.scope import Scope
from tlsscope.settings import Settings
from tlsscope.store import Store, alert_log_rows, alerts_rows
from tlsscope.store.alert_log_rows import DeliveryLog


def _rule_ids(store: Store, scope: Scope) -> list[int] | None:
    """The rules whose deliveries the user may see (None: all), removed ones included."""
    if scope.user.is_admin:
        return None
    if scope.user.organisation is None:
        return []
    return store.read(alerts_rows.rule_ids, scope.user.organisation)


def deliveries(store: Store, scope: Scope, limit: int = 100) -> list[DeliveryLog]:
    """The newest deliveries of the rules the user may see, with their attempts."""
    return store.read(alert_log_rows.log, _rule_ids(store, scope), min(max(limit, 1), 1000))


def of_finding(store: Store, scope: Scope, finding_id: int) -> tuple[list[DeliveryLog],
                                                                      list[dict[str, object]]]:
    """The deliveries a finding's alerts went in, and its alerts suppressed as repeats (the
    caller has checked the finding is the user's)."""
    visible = _rule_ids(store, scope)
    sent = store.read(alert_log_rows.log, visible, 100, finding_id)
    held = [each for each in store.read(alert_log_rows.suppressed_of, finding_id)
            if visible is None or each["rule"] in visible]
    return sent, held


def test(store: Store, scope: Scope, settings: Settings, rule_id: int,
         now: dt.datetime | None = None) -> tuple[Pass, DeliveryLog]:
    """Send a sample alert through the rule now (kept in the log like any delivery)."""
    scope.require("write")
    scope.require_writer()
    rule = rules.one(store, scope, rule_id)
    now = now or dt.datetime.now(dt.UTC)
    key = "al_test_" + secrets.token_hex(12)
    data = msgspec.json.encode({"finding_id": None, "domain": "", "kind": "test",
                                "severity": "info", "title": "", "explanation": "",
                                "fix": [], "status": "open", "first_seen": now.date().isoformat(),
                                "last_seen": now.date().isoformat(), "sessions": 0,
                                "reporters": [], "mode": ""}).decode()
    delivery = store.write(alerts_rows.test_delivery, rule.id, key, data, now)
    done = deliver.deliver_due(store, settings, only=delivery)
    (shown,) = store.read(alert_log_rows.log, [rule.id], 1, None, delivery)
    return done, shown
