"""Dashboard latency with 1,000,000 stored reports for one domain over 90 days, measured
through HTTP against a real `tlsscope serve` on SQLite (issue 7's target: p95 < 100 ms for
the overview, domain and reports pages and their API calls; pages under 500 KB of assets).

    python bench/dashboard.py [--db sqlite:///bench/data/dashboard.db] [--reports 1000000]
                              [--runs 40]

The reports go through the real reader and store. One domain, big.example, receives reports
from 2,000 reporting organisations, several a day each (as Postfix sites with many MTAs send),
sts enforce, 0 to 2 failure rows each. Building takes a few minutes and is skipped when the
database already holds the reports. There is no peer to compare with: parsedmarc has no
dashboard of its own (it feeds Elasticsearch/Splunk), so the figures are absolute.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tlsscope.app import freshness
from tlsscope.parse.reader import read_input
from tlsscope.store import Arrival, Store, queries

DOMAIN = "big.example"
REPORTERS = 2_000
DAYS = 90
RESULTS = ["certificate-expired", "starttls-not-supported", "certificate-host-mismatch",
           "sts-policy-fetch-error", "validation-failure"]
PASSWORD = "bench-password-1"


def report(day: dt.date, reporter: int, serial: int, rng: random.Random) -> bytes:
    ok = rng.randrange(10, 500)
    rows: list[dict[str, Any]]
    rows = [{"result-type": rng.choice(RESULTS),
             "sending-mta-ip": f"198.51.100.{rng.randrange(64)}",
             "receiving-mx-hostname": f"mx{rng.randrange(1, 4)}.{DOMAIN}",
             "receiving-ip": f"203.0.113.{rng.randrange(8)}",
             "failed-session-count": rng.randrange(1, 20)}
            for _ in range(rng.choice((0, 0, 0, 1, 2)))]
    doc = {"organization-name": f"Sender {reporter:04d}",
           "contact-info": "tlsrpt@sender.example", "report-id": f"{day}-{serial}",
           "date-range": {"start-datetime": f"{day}T00:00:00Z",
                          "end-datetime": f"{day}T23:59:59Z"},
           "policies": [{
               "policy": {"policy-type": "sts", "policy-domain": DOMAIN,
                          "policy-string": ["version: STSv1", "mode: enforce",
                                            f"mx: *.{DOMAIN}", "max_age: 604800"],
                          "mx-host": [f"*.{DOMAIN}"]},
               "summary": {"total-successful-session-count": ok,
                           "total-failure-session-count": sum(r["failed-session-count"]
                                                              for r in rows)},
               "failure-details": rows}]}
    return json.dumps(doc, separators=(",", ":")).encode()


def build(store: Store, total: int, last: dt.date) -> None:
    rng = random.Random(90)
    per_day = total // DAYS + 1
    now = dt.datetime.now(dt.UTC)
    batch: list[Arrival] = []
    made = 0
    began = time.perf_counter()
    for offset in range(DAYS):
        day = last - dt.timedelta(days=DAYS - 1 - offset)
        for serial in range(per_day):
            if made >= total:
                break
            data = report(day, serial % REPORTERS, serial, rng)
            source = f"bench/{made}.json"
            batch.append(Arrival(hashlib.sha256(data).hexdigest(), source, data, now,
                                 read_input(data, source)))
            made += 1
            if len(batch) == 2000:
                store.save(batch)
                batch = []
                if made % 100_000 == 0:
                    rate = made / (time.perf_counter() - began)
                    print(f"  {made:,} reports stored ({rate:,.0f}/s)", flush=True)
    if batch:
        store.save(batch)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    default = Path(__file__).parent / "data" / "dashboard.db"
    parser.add_argument("--db", default=f"sqlite:///{default}")
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    Path(default).parent.mkdir(parents=True, exist_ok=True)
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    with Store.open(args.db) as store:
        have = store.read(queries.stats, DOMAIN, dt.date(2000, 1, 1), dt.date(2100, 1, 1)).reports
        if have < args.reports:
            print(f"building {args.reports:,} reports for {DOMAIN} in {args.db} ...",
                  flush=True)
            build(store, args.reports - have, last)
            freshness.rollups_now(store)  # as `tlsscope ingest` does once it has stored its files
            store.analyze()  # and after a bulk load
        have = store.read(queries.stats, DOMAIN, dt.date(2000, 1, 1), dt.date(2100, 1, 1)).reports
        stored_last = store.read(lambda c: c.exec_driver_sql(
            "SELECT max(day) FROM daily_totals").scalar())
        print(f"store holds {have:,} reports for {DOMAIN}; latest day {stored_last}")
        began = time.perf_counter()
        freshness.findings_now(store)
        print(f"findings computed in {time.perf_counter() - began:.1f} s (once, in the "
              "background when serving)")
    port = free_port()
    env = {**os.environ, "TLSSCOPE_ADMIN_EMAIL": "bench@example.net",
           "TLSSCOPE_ADMIN_PASSWORD": PASSWORD, "TLSSCOPE_CHECK_EVERY_HOURS": "0",
           "TLSSCOPE_CHECK_ON_FAILURE": "false", "TLSSCOPE_HTTP_RATE_PER_MINUTE": "0"}
    server = subprocess.Popen([sys.executable, "-m", "tlsscope", "serve", "--db", args.db,
                               "--listen", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("serve did not start")
            time.sleep(0.1)
        measure(base, args.runs, last)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


def measure(base: str, runs: int, last: dt.date) -> None:
    client = httpx.Client(base_url=base, timeout=120, follow_redirects=False)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = client.post("/login", data={"email": "bench@example.net", "password": PASSWORD,
                                       "csrf": csrf.group(1), "next": "/"})
    assert done.status_code == 303, done.text
    settings_page = client.get("/settings").text
    session_csrf = re.search(r'name="csrf" value="([^"]+)"', settings_page)
    assert session_csrf is not None
    made = client.post("/settings/tokens", data={"name": "bench", "csrf": session_csrf.group(1)})
    token = re.search(r'id="new-token">([^<]+)<', made.text)
    assert token is not None
    api = httpx.Client(base_url=base, timeout=120,
                       headers={"authorization": f"Bearer {token.group(1)}"})
    key = api.get("/api/v1/reports", params={"domain": DOMAIN, "limit": 1}).json()[0]["key"]
    targets: list[tuple[str, httpx.Client, str, dict[str, Any]]] = [
        ("page  /  (overview)", client, "/", {}),
        ("page  /domains/big.example (30 days)", client, f"/domains/{DOMAIN}", {}),
        ("page  /domains/big.example?days=90", client, f"/domains/{DOMAIN}", {"days": 90}),
        ("page  /reports?domain=big.example", client, "/reports", {"domain": DOMAIN}),
        ("page  /reports?domain=...&page=200", client, "/reports",
         {"domain": DOMAIN, "page": 200}),
        ("page  /reports?reporter=sender 0042", client, "/reports", {"reporter": "sender 0042"}),
        ("page  /reports/KEY", client, f"/reports/{key}", {}),
        ("api   /api/v1/domains", api, "/api/v1/domains", {}),
        ("api   /api/v1/domains/D/stats?days=90", api, f"/api/v1/domains/{DOMAIN}/stats",
         {"days": 90, "until": last.isoformat()}),
        ("api   /api/v1/domains/D/summary", api, f"/api/v1/domains/{DOMAIN}/summary", {}),
        ("api   /api/v1/findings?domain=D", api, "/api/v1/findings", {"domain": DOMAIN}),
        ("api   /api/v1/reports?domain=D", api, "/api/v1/reports", {"domain": DOMAIN}),
    ]
    print(f"\n{'request':<42} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  (runs: {runs})")
    worst = 0.0
    for name, who, path, params in targets:
        answer = who.get(path, params=params)  # warm-up
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        timings = []
        for _ in range(runs):
            began = time.perf_counter()
            who.get(path, params=params).raise_for_status()
            timings.append((time.perf_counter() - began) * 1000)
        p95 = percentile(timings, 0.95)
        worst = max(worst, p95)
        print(f"{name:<42} {statistics.median(timings):8.1f} {p95:8.1f} {max(timings):8.1f}")
    print(f"\nworst p95: {worst:.1f} ms (target < 100 ms)")
    html = client.get(f"/domains/{DOMAIN}").text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    sizes = {a: len(client.get(a).content) for a in assets}
    total = len(html.encode()) + sum(sizes.values())
    print(f"domain page: {len(html.encode()):,} B of HTML + {sum(sizes.values()):,} B of "
          f"assets ({', '.join(f'{Path(a).name} {s:,}' for a, s in sizes.items())}) = "
          f"{total / 1024:.0f} KB (target < 500 KB)")


if __name__ == "__main__":
    main()
