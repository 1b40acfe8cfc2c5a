"""The write path alone: `Store.save` of group commits on SQLite and PostgreSQL, with the
statements each batch sends.

    python bench/write_path.py [--reports 6400] [--batch 32] [--engines sqlite,postgresql]
                               [--runs 2]

The reports are those of bench/intake.py (distinct, 1 to 3 failure rows per policy, 40
domains, a new organisation each), read beforehand (reading is not timed) and stored in
batches of `--batch` arrivals, each in one transaction, as serve's writer does (HTTPS
provenance). PostgreSQL is a durable server of its own (bench/intake.py's). Printed per
engine: reports/s, ms per batch (median, p99), and the statements of one batch, by kind,
from SQLAlchemy's cursor events (an executemany counts once: psycopg pipelines its rows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402
from intake import _nothing, durable_postgres  # noqa: E402
from tlsscope.parse.reader import read_input  # noqa: E402
from tlsscope.store import Arrival, Pool, Store  # noqa: E402
from tlsscope.vocab import Channel  # noqa: E402


def arrivals(count: int, offset: int) -> list[Arrival]:
    out = []
    now = dt.datetime.now(dt.UTC)
    for i in range(offset, offset + count):
        doc = corpus.report(1 + i % 3, seed=i, day=1 + i % 28, domain=f"d{i % 40}.example",
                            org=f"Sender {i}")
        data = gzip.compress(corpus.compact(doc), mtime=0)
        source = f"https:127.0.0.1 #{i}"
        out.append(Arrival(digest=hashlib.sha256(data).hexdigest(), source=source, data=data,
                           received_at=now,
                           result=read_input(data, source, declared_type="application/tlsrpt+gzip"),
                           channel=Channel.HTTPS, peer="127.0.0.1"))
    return out


def kind(statement: str) -> str:
    words = statement.split()
    head = " ".join(words[:3]).upper()
    return head.split(" (")[0][:40]


def round_trips(store: Store, batch: list[Arrival]) -> int:
    """Store the batch; on PostgreSQL, how many times the client waited for the server (the
    ReadyForQuery messages of libpq's protocol trace: one per sync, i.e. per round-trip)."""
    if store.engine.dialect.name != "postgresql":
        store.save(batch)
        return 0
    with store.engine.connect() as connection:  # the pool's one connection
        pgconn: Any = connection.connection.driver_connection.pgconn  # type: ignore[union-attr]
    with tempfile.TemporaryFile() as trace:
        pgconn.trace(trace.fileno())
        store.save(batch)
        pgconn.untrace()
        trace.seek(0)
        return trace.read().count(b"ReadyForQuery")


def run(store: Store, batches: list[list[Arrival]]) -> dict[str, Any]:
    statements: Counter[str] = Counter()
    spent: defaultdict[str, float] = defaultdict(float)  # ms per kind, timed batches
    counting = [True]
    began_at = [0.0]

    @event.listens_for(store.engine, "before_cursor_execute")
    def _count(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, many: bool) -> None:
        if counting[0]:
            statements[("many " if many else "") + kind(statement)] += 1
        began_at[0] = time.perf_counter()

    @event.listens_for(store.engine, "after_cursor_execute")
    def _time(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, many: bool) -> None:
        spent[kind(statement)] += (time.perf_counter() - began_at[0]) * 1000

    store.save(batches[0])  # warm-up: statements compiled, connections open
    counting[0] = False
    statements.clear()
    counting[0] = True
    trips = round_trips(store, batches[1])
    counting[0] = False
    per_batch = dict(statements)
    spent.clear()
    times = []
    began = time.perf_counter()
    for batch in batches[2:]:
        start = time.perf_counter()
        store.save(batch)
        times.append((time.perf_counter() - start) * 1000)
    elapsed = time.perf_counter() - began
    reports = sum(len(b) for b in batches[2:])
    times.sort()
    return {"reports_per_s": reports / elapsed, "batch_ms_median": statistics.median(times),
            "batch_ms_p99": times[int(len(times) * 0.99)], "statements": per_batch,
            "round_trips": trips,
            "ms_per_batch": {k: round(v / len(times), 2)
                             for k, v in sorted(spent.items(), key=lambda kv: -kv[1])},
            "ms_outside_statements": round(sum(times) / len(times)
                                           - sum(spent.values()) / len(times), 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=6400)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    folder = Path(tempfile.mkdtemp(prefix="tlsscope-write-"))
    try:
        _runs(args, engines, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _runs(args: argparse.Namespace, engines: list[str], folder: Path) -> None:
    with durable_postgres() if "postgresql" in engines else _nothing() as server:
        for number in range(args.runs):
            made = arrivals(args.reports, number * args.reports)
            batches = [made[i:i + args.batch] for i in range(0, len(made), args.batch)]
            for engine in engines:
                url = (server.create_database() if engine == "postgresql"
                       else f"sqlite:///{folder / f'w-{number}.db'}")
                store = Store.open(url, checkpoints="background",
                                   pool=Pool(1, 10.0, pre_ping=False))  # as serve's writer
                try:
                    result = run(store, batches)
                finally:
                    store.close()
                print(f"{engine} run {number + 1}: {result['reports_per_s']:,.0f} reports/s, "
                      f"batch of {args.batch}: median {result['batch_ms_median']:.1f} ms, "
                      f"p99 {result['batch_ms_p99']:.1f} ms; {result['round_trips']} "
                      f"round-trips per batch (PostgreSQL), statements through SQLAlchemy: "
                      f"{result['statements']}\n  ms per batch in "
                      f"statements: {result['ms_per_batch']}, elsewhere (commit, Python) "
                      f"{result['ms_outside_statements']}", flush=True)


if __name__ == "__main__":
    main()
