"""An alert's whole way on a real SQLite store to a real HTTP receiver on loopback: a
confirmed finding opens (the outbox is written in its transaction), the sender signs and
POSTs it, a failing receiver is retried on the backoff (1 min, 5 min, ...) with the same id,
and the finding's resolution is told too."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

from tests.support.hooks import receiver
from tests.support.ingest import ingest_paths
from tests.support.scenarios import write
from tests.support.stories import DOMAIN, expiring_mx2
from tlsscope.alert import deliver, log, rules
from tlsscope.app import freshness
from tlsscope.app.scope import OPERATOR
from tlsscope.settings import Settings
from tlsscope.store import Store

RENEWED = dt.date(2026, 2, 12)
FIRST = dt.datetime(2026, 2, 12, 6, tzinfo=dt.UTC)
SECOND = dt.datetime(2026, 2, 28, 6, tzinfo=dt.UTC)
SETTINGS = Settings(alerts_allow_private=True, public_url="https://tlsscope.example.net")


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def _opened(store: Store, folder: Path) -> None:
    ingest_paths(store, write(folder, DOMAIN, [d for d in expiring_mx2() if d.day <= RENEWED]))
    assert freshness.findings_now(store, now=FIRST) == [DOMAIN]


def _verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    fields = dict(part.split("=", 1) for part in headers["x-tlsscope-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)


def test_a_finding_that_opens_is_posted_signed_and_its_resolution_follows(
        store: Store, tmp_path: Path) -> None:
    with receiver([204]) as hook:
        made = rules.create(store, OPERATOR, channel="generic", target=hook.url,
                            secret="s3cret", min_severity="info")
        _opened(store, tmp_path / "a")
        done = deliver.deliver_due(store, SETTINGS, clock=Clock(FIRST))
        assert done.counts() == (1, 0, 0)
        ((path, headers, body),) = hook.requests
        assert path == "/hook"
        _verify("s3cret", headers, body)
        sent = json.loads(body)
        assert headers["x-tlsscope-event"] == sent["event"] == "finding.opened"
        assert headers["x-tlsscope-delivery"] == sent["id"] and sent["id"].startswith("al_")
        finding = sent["finding"]
        assert finding["domain"] == DOMAIN and finding["kind"] == "certificate"
        assert finding["mx_host"] == f"mx2.{DOMAIN}" and finding["sessions"] > 0
        assert finding["url"] == f"https://tlsscope.example.net/findings/{finding['id']}"
        assert finding["first_seen"] == "2026-02-08" and finding["fix"]
        assert finding["reporters"] == ["Google LLC", "Microsoft Corporation"]
        assert set(finding) >= {"id", "domain", "kind", "severity", "title", "explanation",
                                "fix", "url", "first_seen", "last_seen", "sessions",
                                "reporters"}
        # Nothing more is due: sending again sends nothing.
        assert deliver.deliver_due(store, SETTINGS, clock=Clock(FIRST)).counts() == (0, 0, 0)

        ingest_paths(store, write(tmp_path / "b", DOMAIN,
                                  [d for d in expiring_mx2() if d.day > RENEWED]))
        assert freshness.findings_now(store, now=SECOND) == [DOMAIN]
        assert deliver.deliver_due(store, SETTINGS, clock=Clock(SECOND)).delivered == 1
        resolved = json.loads(hook.requests[1].body)
        assert resolved["event"] == "finding.resolved"
        assert resolved["finding"]["id"] == finding["id"] and resolved["id"] != sent["id"]
    entries = log.deliveries(store, OPERATOR)
    assert [e.state for e in entries] == ["delivered", "delivered"]
    assert [e.rule for e in entries] == [made.id, made.id]


def test_a_failing_receiver_is_retried_on_the_backoff_with_the_same_id(
        store: Store, tmp_path: Path) -> None:
    with receiver([500, 500, 204]) as hook:
        rules.create(store, OPERATOR, channel="generic", target=hook.url, min_severity="info")
        _opened(store, tmp_path)
        clock = Clock(FIRST)
        assert deliver.deliver_due(store, SETTINGS, clock=clock).counts() == (0, 1, 0)
        clock.at = FIRST + dt.timedelta(seconds=59)
        assert deliver.deliver_due(store, SETTINGS, clock=clock).counts() == (0, 0, 0)
        clock.at = FIRST + dt.timedelta(minutes=1, seconds=1)
        assert deliver.deliver_due(store, SETTINGS, clock=clock).counts() == (0, 1, 0)
        clock.at += dt.timedelta(minutes=4)
        assert deliver.deliver_due(store, SETTINGS, clock=clock).counts() == (0, 0, 0)
        clock.at += dt.timedelta(minutes=1, seconds=1)
        assert deliver.deliver_due(store, SETTINGS, clock=clock).counts() == (1, 0, 0)
        assert deliver.deliver_due(store, SETTINGS, clock=clock).counts() == (0, 0, 0)
        ids = {request.headers["x-tlsscope-delivery"] for request in hook.requests}
        assert len(hook.requests) == 3 and len(ids) == 1
    (entry,) = log.deliveries(store, OPERATOR)
    assert entry.state == "delivered" and entry.attempts == 3
    assert [(t["outcome"], t["status"]) for t in entry.tries] == [
        ("retry", 500), ("retry", 500), ("delivered", 204)]
    assert entry.tries[0]["error"].startswith("HTTP 500")
