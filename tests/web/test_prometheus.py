"""A real Prometheus scrapes a real `tlsscope serve` (its metrics listener) loaded with reports
over HTTPS, a mailbox on a real Dovecot, a webhook alert rule and live checks; its answers
equal `tlsscope stats`, and every PromQL expression of deploy/grafana/tlsscope.json and
deploy/prometheus/alerts.yml returns data from it (`promtool check rules` passes, and the
alerts the scenario calls for are pending or firing)."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import dovecot as imap
from tests.support import prometheus
from tests.support.cli import tlsscope
from tests.support.hooks import receiver
from tests.support.scenarios import Day, Failure, report
from tests.support.served import Served
from tests.support.webserver import free_port
from tlsscope.app.windows import today
from tlsscope.live_check import LiveCheck, Step
from tlsscope.store import Store, checks_rows

pytestmark = pytest.mark.server
ROOT = Path(__file__).parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "tlsscope.json"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
YESTERDAY = today() - dt.timedelta(days=1)
# What the scenario makes true, so these alerts' full expressions return data
FIRING = {"TlsscopeDomainFailures", "TlsscopeReporterQuiet", "TlsscopeCertificateExpiring",
          "TlsscopePolicyCertificateExpiring", "TlsscopeSevereFindings",
          # serve counts from 0 (counters.prime): the first rejected input, the first failed
          # delivery after a start, are increases Prometheus sees
          "TlsscopeInputsRejected", "TlsscopeAlertsFailing"}


def _day(n: int) -> dt.date:
    return YESTERDAY - dt.timedelta(days=n)


def _reports() -> list[tuple[str, bytes]]:
    """(domain, gzipped report): a.example's come by `ingest -` (an MTA's pipe: given by the
    operator, so authenticated, and their findings confirmed and alerted on), the others over
    HTTPS (anyone may post those: RFC 8460 §7)."""
    expired = [Failure("certificate-expired", 30, "mx1.a.example")]
    days = [("a.example", Day("Google Inc.", _day(0), 100, expired)),
            ("a.example", Day("Microsoft Corporation", _day(0), 50,
                              [Failure("starttls-not-supported", 5, "mx2.a.example")])),
            ("a.example", Day("Google Inc.", _day(3), 80, expired)),
            ("b.example", Day("Google Inc.", _day(0), 40, mode="testing")),
            ("b.example", Day("Quiet Org", _day(4), 10, mode="testing")),
            ("b.example", Day("Google Inc.", _day(9), 999, mode="testing"))]  # outside 7d
    return [(domain, gzip.compress(json.dumps(report(domain, entry)).encode()))
            for domain, entry in days]


def _check(domain: str, now: dt.datetime) -> LiveCheck:
    return LiveCheck(domain=domain, checked_at=now, status="warning", seconds=1.0, steps=[
        Step(step="mx", target=f"mx1.{domain} [192.0.2.1]", status="warning", line="x",
             host=f"mx1.{domain}", expires=(now + dt.timedelta(days=5)).isoformat()),
        Step(step="mta-sts-policy", target=f"https://mta-sts.{domain}/.well-known/mta-sts.txt "
             "via 192.0.2.9", status="ok", line="x",
             expires=(now + dt.timedelta(days=10)).isoformat())])


def _until(seconds: float, done: Callable[[], bool], what: str | Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, what if isinstance(what, str) else what()
        time.sleep(0.5)


def _active(server: prometheus.Prometheus) -> set[str]:
    return {r["name"] for r in server.rules() if r.get("state") in ("pending", "firing")}


def _any(server: prometheus.Prometheus, expr: str) -> bool:
    return bool(server.query(expr))


def _stats(db: str, domain: str, days: int) -> dict[str, Any]:
    done = tlsscope("stats", "--domain", domain, "--days", str(days), "--until",
                    YESTERDAY.isoformat(), "--json", "--db", db)
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _grafana_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    exprs += [v["query"]["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    return exprs


def _as_promql(expr: str) -> str:
    """A Grafana target as Prometheus evaluates it: every domain, a 1-minute rate window."""
    return expr.replace("$domain", ".*").replace("$__rate_interval", "1m")


def _without_threshold(expr: str) -> str:
    """An alert's expression without its final comparison: the series it is judged on."""
    return re.sub(r"\s*(>|<|>=|<=|==|!=)\s*[-0-9.e+* ]+$", "", expr.strip())


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    prometheus.skip_unless_available()
    imap.skip_unless_available()
    folder = tmp_path_factory.mktemp("prometheus")
    db = f"sqlite:///{folder / 'serve.db'}"
    mailbox = imap.Dovecot()  # started
    with receiver([500, 204]) as hook:
        added = tlsscope("alerts", "add", "--webhook", hook.url, "--min-severity", "info",
                         "--db", db, env={"TLSSCOPE_ALERTS_ALLOW_PRIVATE": "true"})
        assert added.returncode == 0, added.stderr
        with Store.open(db) as store:  # stored, and told to no one: an earlier test may
            # have wired this process's events to the alerts (alert.wire), and an alert sent
            # before Prometheus first scrapes would be no increase to it
            store.write(checks_rows.save, _check("a.example", dt.datetime.now(dt.UTC)))
        metrics_port = free_port()
        served = Served(folder, TLSSCOPE_METRICS_LISTEN=f"127.0.0.1:{metrics_port}",
                        TLSSCOPE_ALERTS_ALLOW_PRIVATE="true", TLSSCOPE_ALERTS_POLL_SECONDS="0.5",
                        TLSSCOPE_IMAP=mailbox.url(), TLSSCOPE_IMAP_PASSWORD=imap.PASSWORD,
                        TLSSCOPE_IMAP_WAIT="1", TLSSCOPE_CHECK_EVERY_HOURS="24",
                        TLSSCOPE_CHECK_POLL_SECONDS="1", TLSSCOPE_CHECK_TIMEOUT="1",
                        TLSSCOPE_CHECK_UNOWNED="true",
                        TLSSCOPE_DNS_NAMESERVER=f"127.0.0.1:{free_port()}")  # answers nothing
        served.metrics_port = metrics_port  # type: ignore[attr-defined]
        server = prometheus.Prometheus(folder / "prometheus", f"127.0.0.1:{metrics_port}",
                                       [RULES])
        try:
            _until(60, lambda: server.value('sum(tlsscope_inputs_total{outcome="rejected"})')
                   == 0, "Prometheus did not scrape the counters at 0 first")
            bodies = _reports()
            for domain, body in bodies:
                if domain == "a.example":  # through serve's pipe socket
                    piped = tlsscope("ingest", "-", "--db", db, stdin=body)
                    assert piped.returncode == 0, piped.stderr
                else:
                    assert served.post(body).status_code == 201
            assert served.post(bodies[-1][1]).status_code == 200  # a duplicate
            rejected = served.post_raw(b'{"organization-name": "x", "policies": [}',
                                       "application/tlsrpt+json")
            assert rejected.status_code == 400
            posted = time.monotonic()
            _until(120, lambda: server.value(
                'sum(tlsscope_inputs_total{outcome=~"accepted|duplicate|rejected"})')
                == len(bodies) + 2, "the inputs never showed in Prometheus")
            for ready in ("tlsscope_alerts_total > 0", "tlsscope_checks_total > 0",
                          "tlsscope_imap_last_poll_timestamp_seconds",
                          'tlsscope_open_findings{severity=~"critical|high"}'):
                _until(120, functools.partial(_any, server, ready), f"no {ready} in Prometheus")
            # the report gauges Prometheus holds were read after the last report came in
            # (the value is as of the last scrape, a second ago at most)
            _until(60, lambda: (server.value("tlsscope_metrics_reports_age_seconds") or 1e9)
                   < time.monotonic() - posted - 2, "the report gauges were not read again")
            _until(60, lambda: _active(server) >= FIRING,
                   lambda: f"not pending or firing: {sorted(FIRING - _active(server))}")
            yield served, server, db, len(bodies)
        finally:
            server.stop()
            served.stop()
            mailbox.destroy()


def test_prometheus_sees_what_tlsscope_stats_says(loaded: Any) -> None:
    _, server, db, stored = loaded
    for domain in ("a.example", "b.example"):
        for window, days in (("1d", 1), ("7d", 7)):
            stats = _stats(db, domain, days)
            for outcome in ("successful", "failed"):
                seen = server.value(f'sum(tlsscope_sessions{{domain="{domain}", '
                                    f'window="{window}", outcome="{outcome}"}})')
                assert seen == stats[outcome], (domain, window, outcome)
            for mx in stats["by_mx"]:
                seen = server.value(f'sum(tlsscope_failed_sessions{{domain="{domain}", '
                                    f'window="{window}", mx="{mx["name"]}"}})')
                assert seen == mx["failed"], (domain, window, mx)
    assert _stats(db, "a.example", 1)["failed"] == 35  # the data are what we think
    # counted by the writer process, scraped from the web one
    assert server.value('tlsscope_inputs_total{channel="stdin", outcome="accepted"}') == 3
    assert server.value('tlsscope_inputs_total{channel="https", outcome="accepted"}') \
        == stored - 3
    assert server.value('sum(tlsscope_inputs_total{outcome="duplicate"})') == 1
    assert server.value('sum(tlsscope_inputs_total{outcome="rejected"})') == 1
    assert len(server.query("tlsscope_inputs_total")) == 6 * 5  # every channel and outcome
    assert server.value("tlsscope_intake_seconds_count") == stored + 2
    quiet = server.value('tlsscope_last_report_timestamp_seconds{domain="b.example", '
                         'reporter="Quiet Org"}')
    assert quiet == dt.datetime.combine(_day(3), dt.time(), dt.UTC).timestamp()
    (sent,) = [r for r in server.query("tlsscope_alerts_total > 0")
               if r["metric"]["outcome"] == "failed"]  # the webhook answered 500 first
    assert sent["metric"]["channel"] == "generic"  # a generic webhook
    assert server.value("tlsscope_metrics_reports_up") == 1


def test_every_grafana_panel_returns_data(loaded: Any) -> None:
    _, server, _, _ = loaded
    exprs = _grafana_exprs()
    assert len(exprs) >= 15
    for expr in exprs:
        if expr.startswith("label_values("):  # a Grafana function: the series it lists
            assert server.query(expr[len("label_values("):].split(",")[0]), expr
            continue
        assert server.query(_as_promql(expr)), f"no data: {expr}"


def test_promtool_reads_the_scrape(loaded: Any) -> None:
    served, _, _, _ = loaded
    port = served.metrics_port
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).content
    checked = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                             timeout=60, check=False)
    # promtool lints as well as parses: "counter metrics should have _total" and the like
    # are advice; a parse error is a failure
    assert b"error" not in checked.stderr.lower() + checked.stdout.lower(), checked


def test_every_alert_rule_is_valid_and_judged_on_data(loaded: Any) -> None:
    _, server, _, _ = loaded
    checked = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True,
                             text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = [r for r in server.rules() if r["type"] == "alerting"]
    assert len(rules) == 11 and all(r["health"] == "ok" for r in rules), rules
    active = {r["name"] for r in rules if r["state"] in ("pending", "firing")}
    assert active >= FIRING
    for rule in rules:
        expr = rule["query"] if rule["name"] in FIRING else _without_threshold(rule["query"])
        assert server.query(expr), f"{rule['name']}: no data for {expr}"
