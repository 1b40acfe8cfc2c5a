"""Build a store of about 1,000,000 reports, then time the `stats` queries on it.

    python bench/million.py [--db sqlite:///bench/data/million.db] [--reports 1000000]

The reports go through the real reader and the real store (`Store.save`), so the roll-ups are
the ones tlsscope itself computes: 700 domains, 12 reporters, one report per domain, reporter
and day (sts policy; the Microsoft-like reporter adds a tlsa policy for the same sessions),
0 to 2 failure rows. Building takes a few minutes and is skipped when the database already has
the reports. Then `Store.stats` for one domain over 90 days is timed (20 runs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from tlsscope.parse.reader import read_input
from tlsscope.store import Arrival, Store, queries

REPORTERS = ["Google Inc.", "Microsoft Corporation", "Mail.ru", "Yahoo", "Comcast",
             "mailbox.org", "Proton", "Zoho", "Fastmail", "GMX", "Orange", "Example MTA"]
RESULTS = ["certificate-expired", "starttls-not-supported", "certificate-host-mismatch",
           "sts-policy-fetch-error", "validation-failure"]
DOMAINS = 700


def report(day: dt.date, domain: str, reporter: str, rng: random.Random) -> bytes:
    ok = rng.randrange(10, 5000)
    rows: list[dict[str, Any]]
    rows = [{"result-type": rng.choice(RESULTS),
             "sending-mta-ip": f"198.51.100.{rng.randrange(64)}",
             "receiving-mx-hostname": f"mx{rng.randrange(1, 3)}.{domain}",
             "receiving-ip": f"203.0.113.{rng.randrange(8)}",
             "failed-session-count": rng.randrange(1, 20)} for _ in range(rng.choice((0, 0, 1, 2)))]
    failed = sum(r["failed-session-count"] for r in rows)
    sts: dict[str, Any]
    sts = {"policy": {"policy-type": "sts", "policy-domain": domain,
                      "policy-string": ["version: STSv1", "mode: enforce", f"mx: *.{domain}",
                                        "max_age: 604800"], "mx-host": [f"*.{domain}"]},
           "summary": {"total-successful-session-count": ok, "total-failure-session-count": failed},
           "failure-details": rows}
    policies = [sts]
    if reporter.startswith("Microsoft"):
        policies.append({"policy": {"policy-type": "tlsa", "policy-domain": domain,
                                    "policy-string": ["3 1 1 " + "AB" * 32]},
                         "summary": dict(sts["summary"])})
    doc = {"organization-name": reporter, "contact-info": "tlsrpt@reporter.example",
           "report-id": f"{day}_{domain}",
           "date-range": {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"},
           "policies": policies}
    return json.dumps(doc, separators=(",", ":")).encode()


def build(store: Store, total: int) -> None:
    rng = random.Random(7)
    days = total // (DOMAINS * len(REPORTERS)) + 1
    start = dt.date(2026, 11, 27) - dt.timedelta(days=days - 1)
    batch: list[Arrival] = []
    made = 0
    began = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        for d in range(DOMAINS):
            for reporter in REPORTERS:
                if made >= total:
                    break
                data = report(day, f"d{d}.example", reporter, rng)
                source = f"million/{made}.json"
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


def main() -> None:
    parser = argparse.ArgumentParser()
    default = Path(__file__).parent / "data" / "million.db"
    parser.add_argument("--db", default=f"sqlite:///{default}")
    parser.add_argument("--reports", type=int, default=1_000_000)
    args = parser.parse_args()
    with Store.open(args.db) as store:
        have = store.read(queries.stats, None, dt.date(2000, 1, 1), dt.date(2100, 1, 1)).reports
        if have < args.reports:
            print(f"building {args.reports:,} reports in {args.db} ...", flush=True)
            build(store, args.reports)
        found = store.read(queries.stats, None, dt.date(2000, 1, 1), dt.date(2100, 1, 1))
        print(f"store holds {found.reports:,} reports ({found.successful + found.failed:,} "
              "sessions)")
        until = dt.date(2026, 11, 27)
        since = until - dt.timedelta(days=89)
        timings = []
        for i in range(20):
            began = time.perf_counter()
            one = store.read(queries.stats, f"d{i % DOMAINS}.example", since, until)
            timings.append((time.perf_counter() - began) * 1000)
        print(f"stats for one domain over 90 days: {one.reports} reports, {len(one.days)} days; "
              f"median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms "
              f"(20 runs, 5 queries each)")


if __name__ == "__main__":
    main()
