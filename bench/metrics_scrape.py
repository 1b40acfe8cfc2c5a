"""/metrics for an MSP: the report gauges of 10,000 domains, read and rendered as one scrape.

    python bench/metrics_scrape.py [--domains 10000] [--history-days 120] [--runs 5]
                                   [--db URL | --postgres]

The store (SQLite in a temporary folder; `--db`, empty; or `--postgres`, a PostgreSQL
server of its own started for the run) is filled with what a year of
reports leaves in the tables a scrape reads, written straight into them (ingesting the
1.2 million reports behind it would take an hour and time nothing more): per domain, two
reporters each day of `--history-days` (daily_totals, domain_days, domain_reporters), one
domain in five failing at up to 12 MX hosts with two result types (daily_failures,
failure_days), open findings, and the certificates of a latest check (two MX hosts with two
addresses each, and the policy host). Nothing is marked to be rebuilt, as the analyst leaves
it. Timed, as GET /metrics calls it (web/metrics.Scrape):

- a read: the report gauges read from the store and written in the text format (what the
  first scrape after a start waits for, and what later scrapes start in the background, at
  most every 10 times as long as a read takes), median and worst of `--runs` fresh ones;
- a scrape: what Prometheus waits for once a read is done (the latest read's text, the
  service's counters), median and worst of 20.

Printed: samples and series per domain. The issue's target: a scrape under 1 s. There is no
peer to compare with: parsedmarc exports no metrics (its Elasticsearch and Splunk outputs are
not scraped).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "src"))
from tlsscope.app.windows import today  # noqa: E402
from tlsscope.settings import Settings  # noqa: E402
from tlsscope.store import Store  # noqa: E402
from tlsscope.store import tables as t  # noqa: E402
from tlsscope.web import metrics  # noqa: E402

REPORTERS = ("Google Inc.", "Microsoft Corporation")
CHUNK = 5000


def _insert(store: Store, table: Any, rows: list[dict[str, Any]]) -> None:
    def insert(connection: Any, chunk: list[dict[str, Any]]) -> None:
        connection.execute(table.insert(), chunk)

    for start in range(0, len(rows), CHUNK):
        store.write(insert, rows[start:start + CHUNK])


def fill(store: Store, domains: int, history: int) -> int:
    """The rows of `domains` domains over `history` days; returns how many were written."""
    last = today() - dt.timedelta(days=1)
    days = [last - dt.timedelta(days=n) for n in range(history)]
    now = dt.datetime.now(dt.UTC)
    written = 0
    for first in range(0, domains, 500):
        totals, coarse, reporters, fine, failures = [], [], [], [], []
        findings, certificates = [], []
        for n in range(first, min(domains, first + 500)):
            domain = f"d{n:05d}.example"
            failing = n % 5 == 0
            for org in REPORTERS:
                reporters.append({"domain": domain, "organization_name": org,
                                  "first_day": days[-1], "first_stored_at": now,
                                  "last_day": days[0]})
            for day in days:
                failed = 24 if failing else 0
                for org in REPORTERS:
                    totals.append({"domain": domain, "day": day, "policy_type": "sts",
                                   "mode": "enforce", "organization_name": org, "reports": 1,
                                   "successful": 500, "failed": failed // 2,
                                   "counted_successful": 500, "counted_failed": failed // 2})
                coarse.append({"domain": domain, "day": day, "policy_type": "sts",
                               "mode": "enforce", "reports": 2, "successful": 1000,
                               "failed": failed, "counted_successful": 1000,
                               "counted_failed": failed})
                if failing:
                    for host in range(12):
                        kind = "certificate-expired" if host % 2 else "starttls-not-supported"
                        mx = f"mx{host}.{domain}"
                        fine.append({"domain": domain, "day": day, "organization_name":
                                     REPORTERS[host % 2], "policy_type": "sts",
                                     "result_type": kind, "receiving_mx_hostname": mx,
                                     "receiving_ip": f"192.0.2.{host}", "sessions": 2,
                                     "counted_sessions": 2})
                        failures.append({"domain": domain, "day": day, "policy_type": "sts",
                                         "result_type": kind, "receiving_mx_hostname": mx,
                                         "sessions": 2, "counted_sessions": 2})
            if failing:
                findings.append({"domain": domain, "fingerprint": f"cert|{domain}",
                                 "kind": "certificate", "status": "open", "severity": "high",
                                 "first_seen": days[-1], "last_seen": days[0], "data": "{}",
                                 "updated_at": now})
            for host in range(2):
                for address in (f"192.0.2.{host + 1}", f"2001:db8::{host + 1}"):
                    certificates.append({"domain": domain, "step": "mx",
                                         "host": f"mx{host}.{domain}", "address": address,
                                         "expires_at": now + dt.timedelta(days=30 + n % 60),
                                         "checked_at": now})
            certificates.append({"domain": domain, "step": "mta-sts-policy",
                                 "host": f"mta-sts.{domain}", "address": "192.0.2.9",
                                 "expires_at": now + dt.timedelta(days=90), "checked_at": now})
        for table, rows in ((t.daily_totals, totals), (t.domain_days, coarse),
                            (t.domain_reporters, reporters), (t.daily_failures, fine),
                            (t.failure_days, failures), (t.findings, findings),
                            (t.check_certificates, certificates)):
            _insert(store, table, rows)
            written += len(rows)
        print(f"  {min(domains, first + 500):,} domains written", file=sys.stderr, flush=True)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--history-days", type=int, default=120)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default="", help="an empty database (default: SQLite in /tmp)")
    parser.add_argument("--postgres", action="store_true", help="on a PostgreSQL of its own")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tlsscope-bench-metrics-"))
    url = args.db or f"sqlite:///{folder / 'metrics.db'}"
    server = None
    if args.postgres:
        sys.path.insert(0, str(HERE.parent))
        from tests.support.postgres import PostgresServer

        server = PostgresServer()
        url = server.create_database()
    try:
        with Store.open(url) as store:
            started = time.monotonic()
            rows = fill(store, args.domains, args.history_days)
            print(f"filled {rows:,} rows in {time.monotonic() - started:.0f} s", file=sys.stderr)
            settings = Settings()
            reads, scrapes, text = [], [], b""

            async def timed() -> None:
                nonlocal text
                scrape = None
                for _ in range(args.runs):
                    scrape = metrics.Scrape(store, settings, queue_depth=lambda: 0)  # unread
                    started = time.perf_counter()
                    text = await scrape(False)
                    reads.append(time.perf_counter() - started)
                assert scrape is not None
                for _ in range(20):  # served from the latest read, gzipped as Prometheus asks
                    started = time.perf_counter()
                    await scrape(True)
                    scrapes.append(time.perf_counter() - started)

            asyncio.run(timed())
        samples = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
        zipped = len(gzip.compress(text, compresslevel=1))
        engine = url.split(":", 1)[0]
        print(f"| engine | domains | history days | samples | per domain | MB | read median | "
              f"read worst | scrape median | scrape worst | target: scrape < 1 s |\n"
              f"|---|---|---|---|---|---|---|---|---|---|---|\n"
              f"| {engine} | {args.domains:,} | {args.history_days} | {samples:,} | "
              f"{samples / args.domains:.1f} | {len(text) / 1e6:.1f} "
              f"({zipped / 1e6:.1f} gzipped) | "
              f"{statistics.median(reads) * 1000:.0f} ms | {max(reads) * 1000:.0f} ms | "
              f"{statistics.median(scrapes) * 1000:.1f} ms | {max(scrapes) * 1000:.1f} ms | "
              f"{'met' if max(scrapes) < 1 else 'NOT met'} |")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
