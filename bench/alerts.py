"""Alert speed (issue 15's targets), on SQLite:

1. Drain: 10,000 pending alerts to one webhook receiver on loopback (uvicorn in a process of
   its own, answering 204), sent by `deliver_due` as serve and `tlsscope alerts deliver` do:
   signed generic JSON, each alert its own POST. Target >= 500 alerts/s.
2. The alerting pass: findings recomputed for 1,000 domains whose reports changed (each
   opens a confirmed finding), with the outbox subscribed and two rules covering every domain,
   against the same recomputation with no rule; plus the silent-domain scan over the 1,000
   domains. Target: < 1 s added to the analyst's cycle.

parsedmarc has no alerts: there is no peer figure to compare with here (docs/benchmarks.md).
Run: .venv/bin/python bench/alerts.py [--alerts 10000] [--domains 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy.engine import Connection

RECEIVER = '''
import sys
count = 0
async def app(scope, receive, send):
    global count
    if scope["type"] != "http":
        return
    if scope["method"] == "GET":
        body = str(count).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    count += 1
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
import uvicorn
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, http="httptools", loop="uvloop")
'''


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def drain(count: int, folder: Path) -> float:
    from tlsscope.alert import deliver, rules
    from tlsscope.app.scope import OPERATOR
    from tlsscope.settings import Settings
    from tlsscope.store import Store, alerts_rows

    port = _port()
    server = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        store = Store.open(f"sqlite:///{folder / 'drain.db'}")
        made = rules.create(store, OPERATOR, channel="generic",
                            target=f"http://127.0.0.1:{port}/hook", secret="bench",
                            min_severity="info")
        now = dt.datetime.now(dt.UTC)

        def write(connection: Connection) -> None:
            for n in range(count):
                data = {"finding_id": n + 1, "domain": f"d{n % 1000}.example",
                        "kind": "certificate", "severity": "high", "title": f"alert {n}",
                        "explanation": "The certificate of mx1 expired." * 3,
                        "fix": ["Renew it."], "first_seen": "2026-11-01",
                        "last_seen": "2026-11-30", "sessions": 123, "reporters": ["Google LLC"]}
                alerts_rows.write_alert(connection, alerts_rows.NewAlert(
                    key=f"al_{n:032d}", rule=made.id, event="finding.opened",
                    domain=f"d{n % 1000}.example", finding=None, problem=f"p{n}",
                    severity="high", data=json.dumps(data), suppressed=False, due_at=now,
                    batched=False), now)

        store.write(write)
        settings = Settings(alerts_allow_private=True)
        started = time.perf_counter()
        done = deliver.deliver_due(store, settings)
        seconds = time.perf_counter() - started
        received = int(httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text)
        store.close()
        assert done.delivered == count == received, (done.counts(), received)
        return count / seconds
    finally:
        server.terminate()
        server.wait(10)


def _report(domain: str, day: dt.date, failed: int) -> bytes:
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    details = [{"result-type": "certificate-expired", "failed-session-count": failed,
                "sending-mta-ip": "209.85.128.7", "receiving-mx-hostname": f"mx2.{domain}",
                "receiving-ip": "203.0.113.2"}] if failed else []
    doc = {"organization-name": "Google LLC",
           "date-range": {"start-datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "end-datetime": (start + dt.timedelta(days=1) - dt.timedelta(
                              seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")},
           "contact-info": "smtp-tls-reporting@google.com",
           "report-id": f"{day.isoformat()}_{domain}",
           "policies": [{"policy": {"policy-type": "sts", "policy-domain": domain,
                                    "policy-string": ["version: STSv1", "mode: enforce",
                                                      f"mx: *.{domain}", "max_age: 86400"],
                                    "mx-host": [f"*.{domain}"]},
                         "summary": {"total-successful-session-count": 500,
                                     "total-failure-session-count": failed},
                         "failure-details": details}]}
    return gzip.compress(json.dumps(doc).encode())


def alerting_pass(domains: int, folder: Path,
                  repeats: int = 3) -> tuple[float, float, float, float, int]:
    from tlsscope import alert
    from tlsscope.alert import outbox, rules
    from tlsscope.app import freshness
    from tlsscope.app.ingest import load
    from tlsscope.app.scope import OPERATOR
    from tlsscope.receive.files import RawInput
    from tlsscope.settings import Settings
    from tlsscope.store import Store

    base = folder / "domains.db"
    store = Store.open(f"sqlite:///{base}")
    today = dt.datetime.now(dt.UTC).date()
    raws = [RawInput(f"bench:{n}:{d}", _report(f"d{n}.example", today - dt.timedelta(days=d),
                                               40 if d < 3 else 0), None,
                     dt.datetime.now(dt.UTC))
            for n in range(domains) for d in range(6, 0, -1)]
    load(store, raws, Settings(dkim_verify="never"))
    store.close()
    timings: dict[bool, list[float]] = {False: [], True: []}
    silence = 0.0
    alerts = 0
    fan_outs: list[float] = []
    for attempt in range(repeats):
        for with_rules in (False, True):
            copy = folder / f"pass-{with_rules}-{attempt}.db"
            shutil.copy(base, copy)
            store = Store.open(f"sqlite:///{copy}")
            if with_rules:
                alert.wire()
                rules.create(store, OPERATOR, channel="email", target="ops@ops.example")
                rules.create(store, OPERATOR, channel="generic",
                             target="https://hooks.example/x")
            started = time.perf_counter()
            done = freshness.findings_now(store)  # with rules: each change writes its event
            timings[with_rules].append(time.perf_counter() - started)
            if with_rules:
                started = time.perf_counter()
                outbox.fan_out(store)  # the events become alerts (serve's alert thread)
                fan_outs.append(time.perf_counter() - started)
            assert len(done) == domains, len(done)
            if with_rules:
                with store.engine.connect() as connection:
                    alerts = int(connection.exec_driver_sql(
                        "SELECT count(*) FROM alerts").scalar() or 0)
                started = time.perf_counter()
                outbox.silence(store, 3)
                silence = time.perf_counter() - started
                alert.unwire()
            store.close()
            copy.unlink()
    without = statistics.median(timings[False]) if timings[False] else 0.0
    with_ = statistics.median(timings[True]) if timings[True] else 0.0
    return without, with_, statistics.median(fan_outs) if fan_outs else 0.0, silence, alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--domains", type=int, default=1_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tlsscope-bench-alerts-"))
    try:
        rate = drain(args.alerts, folder)
        without, with_rules, fan_out, silence, alerts = alerting_pass(args.domains, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("| measure | tlsscope | target |\n|---|---:|---:|")
    print(f"| drain {args.alerts:,} pending alerts to one webhook receiver | "
          f"{rate:,.0f} alerts/s | >= 500 alerts/s |")
    print(f"| the analyst's cycle: findings of {args.domains:,} domains that all change, "
          f"no rule (median of 3) | {without:.2f} s | |")
    print(f"| the same with two rules: each change writes its event | {with_rules:.2f} s | |")
    print(f"| added to the analyst's cycle | {with_rules - without:+.2f} s | < 1 s |")
    print(f"| the fan-out of those events into {alerts:,} alerts (serve's alert thread, "
          f"not the analyst) | {fan_out:.2f} s | |")
    print(f"| silent-domain scan over {args.domains:,} domains | {silence * 1000:.0f} ms | |")


if __name__ == "__main__":
    main()
