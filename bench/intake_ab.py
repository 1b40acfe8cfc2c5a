"""Two or more variants of `tlsscope serve` on one durable PostgreSQL, alternating, under the
same HTTPS load: what bench/intake.py runs, without SMTP, to compare changes within one run
(on a shared VM, runs an hour apart differ by up to 25 %).

    python bench/intake_ab.py [--seconds 10] [--connections 64] [--rounds 3] VARIANT...

A VARIANT is NAME or NAME:VAR=VALUE[,VAR=VALUE...]: environment variables for that serve,
e.g. `before:PYTHONPATH=/tmp/before/src` (a `git worktree add /tmp/before REV` of the
code before) and `after`, or `readers0:TLSSCOPE_READERS=0`. Each round starts each variant
on a new database.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import intake


def variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, assignments = text.partition(":")
    env = dict(pair.split("=", 1) for pair in assignments.split(",") if pair)
    return name, env


def one(server: object, folder: Path, script: Path, env: dict[str, str],
        args: argparse.Namespace) -> tuple[float, float | None]:
    url = server.create_database()  # type: ignore[attr-defined]
    http_port, smtp_port = intake.free_port(), intake.free_port()
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        process = intake.start(folder, url, http_port, smtp_port)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        report = intake.http_run(script, http_port, args.seconds, args.connections)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", report)
    p99 = re.search(r"99%\s+([\d.]+\w+)", report)
    return (float(rate.group(1)) if rate else 0.0,
            intake.milliseconds(p99.group(1) if p99 else None))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("variants", nargs="+", type=variant)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    folder = Path(tempfile.mkdtemp(prefix="tlsscope-ab-"))
    results: dict[str, list[tuple[float, float | None]]] = {n: [] for n, _ in args.variants}
    try:
        intake.certificates(folder)
        script = intake.make_bodies(folder)
        with intake.durable_postgres() as server:
            for _ in range(args.rounds):
                for name, env in args.variants:
                    rate, p99 = one(server, folder, script, env, args)
                    results[name].append((rate, p99))
                    print(f"{name}: {rate:,.0f}/s, p99 {p99} ms", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"| variant | mean reports/s ({args.connections} connections) | runs (p99 ms) |")
    print("|---|---:|---|")
    for name, runs in results.items():
        mean = sum(rate for rate, _ in runs) / len(runs)
        each = ", ".join(f"{rate:,.0f} ({p99})" for rate, p99 in runs)
        print(f"| {name} | {mean:,.0f} | {each} |")


if __name__ == "__main__":
    main()
