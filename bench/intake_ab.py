"""Two or more variants of `tlsscope serve` on one durable PostgreSQL, alternating, under the
same HTTPS load: what bench/intake.py runs, without SMTP, to compare changes within one run
(on a shared VM, runs an hour apart differ by up to 25 %).

    python bench/intake_ab.py [--seconds 10] [--connections 64] [--rounds 3] VARIANT...

A VARIANT is NAME or NAME:VAR=VALUE[,VAR=VALUE...]: environment variables for that serve,
e.g. `before:PYTHONPATH=/tmp/before/src` (a `git worktree add /tmp/before REV` of the
code before) and `after`, or `readers0:TLSSCOPE_READERS=0`. Each round starts each variant
on a new database, after a CHECKPOINT, in the opposite order to the round before.
"""

from __future__ import annotations

import argparse
import os
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


def checkpoint(server: object) -> None:
    """Each run from a freshly written-out server (the run before leaves WAL to flush)."""
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/postgres",  # type: ignore[attr-defined]
                         autocommit=True) as connection:
        connection.execute("CHECKPOINT")


def _processes() -> tuple[dict[int, int], dict[int, float]]:
    """Every process's parent and CPU seconds (user + system, living and reaped children's
    included), from Linux /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = sum(int(f) for f in fields[11:15]) / tick
    return parents, times


def tree_seconds(root: int) -> float:
    """CPU seconds of a process and all its descendants."""
    parents, times = _processes()
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


def split_seconds(serve: int, server: object) -> dict[str, float]:
    """CPU seconds of serve's own process (the web), of each of its children and their
    children (the writer and its readers, the analyst), and of PostgreSQL's processes."""
    parents, times = _processes()
    out = {"web": times.get(serve, 0.0)}
    for child in sorted(pid for pid, parent in parents.items() if parent == serve):
        out[f"child {child}"] = times.get(child, 0.0)
        grandchildren = [pid for pid, parent in parents.items() if parent == child]
        if grandchildren:
            out[f"its children {child}"] = sum(times.get(pid, 0.0) for pid in grandchildren)
    out["PostgreSQL"] = tree_seconds(postmaster(server))
    return out


def postmaster(server: object) -> int:
    pid_file = server.folder / "data" / "postmaster.pid"  # type: ignore[attr-defined]
    return int(pid_file.read_text().split()[0])


def one(server: object, folder: Path, script: Path, env: dict[str, str],
        args: argparse.Namespace) -> tuple[float, float | None, float]:
    url = server.create_database()  # type: ignore[attr-defined]
    checkpoint(server)
    http_port, smtp_port = intake.free_port(), intake.free_port()
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        process = intake.start(folder, url, http_port, smtp_port)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        intake.warm_up(script, http_port)
        began = split_seconds(process.pid, server)
        report = intake.http_run(script, http_port, args.seconds, args.connections,
                                 warm=False)
        ended = split_seconds(process.pid, server)
        parts = {name: ended[name] - began.get(name, 0.0) for name in ended}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    figures = intake.wrk_figures(report)
    sent = figures["http_requests"] or 1
    print("  CPU ms per report: " + ", ".join(
        f"{name} {1000 * part / sent:.3f}" for name, part in parts.items()), flush=True)
    return (figures["http_requests_per_s"] or 0.0, figures["http_p99_ms"],
            1000 * sum(parts.values()) / sent)


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
    results: dict[str, list[tuple[float, float | None, float]]] = {
        n: [] for n, _ in args.variants}
    try:
        intake.certificates(folder)
        script = intake.make_bodies(folder)
        with intake.durable_postgres() as server:
            for round_ in range(args.rounds):
                # every other round the other way round (a later run on one server finds
                # more WAL and checkpoints behind it: ABBA, not ABAB)
                order = args.variants if round_ % 2 == 0 else args.variants[::-1]
                for name, env in order:
                    rate, p99, cpu = one(server, folder, script, env, args)
                    results[name].append((rate, p99, cpu))
                    print(f"{name}: {rate:,.0f}/s, p99 {p99} ms, {cpu:.2f} CPU ms per report",
                          flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"| variant | mean reports/s ({args.connections} connections) | runs (p99 ms) "
          "| CPU ms per report (serve + PostgreSQL) |")
    print("|---|---:|---|---:|")
    for name, runs in results.items():
        mean = sum(rate for rate, _, _ in runs) / len(runs)
        each = ", ".join(f"{rate:,.0f} ({p99})" for rate, p99, _ in runs)
        cpu = sum(c for _, _, c in runs) / len(runs)
        print(f"| {name} | {mean:,.0f} | {each} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
