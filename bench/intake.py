"""Intake speed of `tlsscope serve`: HTTPS POSTs with wrk, and SMTP over one connection, on
SQLite and on PostgreSQL in the same run.

    python bench/intake.py [--seconds 10] [--connections 32] [--mails 2000]
                           [--engines sqlite,postgresql] [--runs 1] [--profile DIR]

HTTPS: `tlsscope serve` (one process, uvicorn with uvloop) on loopback with a fresh database;
wrk (Debian's package) POSTs *distinct* gzip reports (so each is a durable insert, not a
duplicate) from a Lua script that cycles through pre-made bodies. A 201 is only sent after
the commit, so requests/s = durable reports/s. The load generator shares the 2 cores.

SQLite: a new file (WAL, synchronous=NORMAL: a commit survives a crash of the process).
PostgreSQL: a server of its own (tests/support/postgres.py), restarted here with fsync,
synchronous_commit and full_page_writes on (the test suite runs it without them): every 201
is on disk.

SMTP: the same server's SMTP receiver with STARTTLS (a throwaway certificate made with
trustme); one smtplib connection sends distinct report mails back to back.

`--profile DIR`: py-spy (when installed) samples the serve process and its children during
the HTTPS run and writes DIR/ENGINE-N.txt (collapsed stacks, per process).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import corpus  # noqa: E402

TLSSCOPE = Path(sys.executable).parent / "tlsscope"
TARGET = {"postgresql": (1500.0, 100.0)}  # durable reports/s at least, p99 ms below
LUA = """
local bodies = {}
local f = io.open("%s", "rb")
while true do
  local header = f:read("*l")
  if not header then break end
  bodies[#bodies + 1] = f:read(tonumber(header))
end
f:close()
local counter = 0
function setup(thread) thread:set("offset", counter * 100000); counter = counter + 1 end
function init(args) index = offset end
function request()
  index = index + 1
  local body = bodies[(index %% #bodies) + 1]
  return wrk.format("POST", "/v1/tlsrpt", {["Content-Type"] = "application/tlsrpt+gzip"}, body)
end
"""
DURABLE = ("-c fsync=on -c synchronous_commit=on -c full_page_writes=on "
           "-c max_connections=200 -c shared_buffers=256MB")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def durable_postgres() -> Iterator[Any]:
    """A PostgreSQL server of its own, durable (the test suite's one turns fsync off)."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer()
    try:
        data = str(server.folder / "data")
        server._run("pg_ctl", "-D", data, "-l", str(server.folder / "log"), "-w", "-o",
                    f"-c listen_addresses=127.0.0.1 -p {server.port} -k {server.folder} "
                    + DURABLE, "restart")
        yield server
    finally:
        server.stop()


def certificates(folder: Path) -> None:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))


def start(folder: Path, url: str, http_port: int, smtp_port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TLSSCOPE_HTTP_RATE_PER_MINUTE": "0", "TLSSCOPE_CHECK_EVERY_HOURS": "0",
           "TLSSCOPE_CHECK_ON_FAILURE": "false"}  # no live re-checks of the made-up domains
    process = subprocess.Popen(
        [str(TLSSCOPE), "serve", "--db", url,
         "--listen", f"127.0.0.1:{http_port}", "--smtp", f"127.0.0.1:{smtp_port}",
         "--rua-address", "tls@example.com", "--tls-cert", str(folder / "server.pem"),
         "--tls-key", str(folder / "server.pem")],
        env=env, stdout=subprocess.DEVNULL, stderr=open(folder / "serve.log", "ab"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"https://127.0.0.1:{http_port}/readyz", timeout=1,
                         verify=False).is_success:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("tlsscope serve did not start")


def make_bodies(folder: Path) -> Path:
    bodies = folder / "bodies.bin"
    with bodies.open("wb") as out:
        for i in range(60_000):
            doc = corpus.report(1 + i % 3, seed=i, day=1 + i % 28, domain=f"d{i % 40}.example",
                                org=f"Sender {i}")
            data = gzip.compress(corpus.compact(doc), mtime=0)
            out.write(f"{len(data)}\n".encode() + data)
    script = folder / "post.lua"
    script.write_text(LUA % bodies)
    return script


def warm_up(script: Path, port: int) -> None:
    subprocess.run(["wrk", "-t1", "-c8", "-d2s", "-s", str(script),
                    f"https://127.0.0.1:{port}"], capture_output=True, check=True)


def http_run(script: Path, port: int, seconds: int, connections: int,
             warm: bool = True) -> str:
    if warm:
        warm_up(script, port)
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                           "-s", str(script), f"https://127.0.0.1:{port}"],
                          capture_output=True, text=True, check=True)
    return done.stdout


def smtp_run(folder: Path, port: int, mails: int, seed: int) -> tuple[float, int]:
    context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    messages = [corpus.mail(corpus.report(1, seed=seed + i, domain=f"m{i % 40}.example"))
                .replace(b"\n", b"\r\n") for i in range(mails)]
    began = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.starttls(context=context)
        for message in messages:
            client.sendmail("noreply-smtp-tls-reporting@google.com", ["tls@example.com"],
                            message)
    return time.perf_counter() - began, mails


def milliseconds(figure: str | None) -> float | None:
    """wrk's latency ("12.34ms", "1.02s", "850.00us") in ms."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", figure or "")
    if found is None:
        return None
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


def one_run(engine: str, url: str, folder: Path, script: Path, args: argparse.Namespace,
            run: int) -> dict[str, Any]:
    http_port, smtp_port = free_port(), free_port()
    process = start(folder, url, http_port, smtp_port)
    spy = None
    try:
        spy_exe = shutil.which("py-spy") or shutil.which("py-spy", path=str(TLSSCOPE.parent))
        if args.profile and spy_exe:
            out = Path(args.profile) / f"{engine}-{run}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen([spy_exe, "record", "--subprocesses", "--format", "raw",
                                    "--rate", "200", "--duration", str(args.seconds + 2),
                                    "--idle", "-o", str(out), "--pid", str(process.pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        report = http_run(script, http_port, args.seconds, args.connections)
        if spy is not None:
            spy.wait(timeout=60)
        elapsed, sent = smtp_run(folder, smtp_port, args.mails, 10**6 + run * args.mails)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    return {"engine": engine, "run": run, **wrk_figures(report),
            "smtp_mails_per_s": round(sent / elapsed, 1)}


def wrk_figures(report: str) -> dict[str, Any]:
    """What wrk's --latency report says: requests/s, p50 and p99 in ms, non-2xx answers,
    requests sent."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", report)
    p50 = re.search(r"50%\s+([\d.]+\w+)", report)
    p99 = re.search(r"99%\s+([\d.]+\w+)", report)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    sent = re.search(r"(\d+) requests in", report)
    return {"http_requests_per_s": float(rate.group(1)) if rate else None,
            "http_p50_ms": milliseconds(p50.group(1) if p50 else None),
            "http_p99_ms": milliseconds(p99.group(1) if p99 else None),
            "http_non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "http_requests": int(sent.group(1)) if sent else 0}


def verdict(result: dict[str, Any]) -> str:
    target = TARGET.get(result["engine"])
    if target is None:
        return ""
    rate, p99 = result["http_requests_per_s"] or 0.0, result["http_p99_ms"] or float("inf")
    met = rate >= target[0] and p99 < target[1] and not result["http_non_2xx"]
    return f"{'met' if met else 'NOT met'} (>= {target[0]:,.0f}/s, p99 < {target[1]:.0f} ms)"


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| engine | run | HTTPS reports/s | p50 ms | p99 ms | non-2xx | SMTP mails/s "
             "| target |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r['engine']} | {r['run']} | {r['http_requests_per_s']:,.0f} | "
                     f"{r['http_p50_ms']:.1f} | {r['http_p99_ms']:.1f} | {r['http_non_2xx']} | "
                     f"{r['smtp_mails_per_s']:,.0f} | {verdict(r)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=1, help="runs per engine, alternating")
    parser.add_argument("--profile", default="", help="folder for py-spy's samples")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    folder = Path(tempfile.mkdtemp(prefix="tlsscope-intake-"))
    certificates(folder)
    script = make_bodies(folder)
    results: list[dict[str, Any]] = []
    try:
        with durable_postgres() if "postgresql" in engines else _nothing() as server:
            for run in range(1, args.runs + 1):
                for engine in engines:
                    if engine == "postgresql":
                        url = server.create_database()
                    else:
                        url = f"sqlite:///{folder / f'intake-{run}.db'}"
                    result = one_run(engine, url, folder, script, args, run)
                    results.append(result)
                    print(json.dumps(result), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(table(results))


@contextmanager
def _nothing() -> Iterator[Any]:
    yield None


if __name__ == "__main__":
    main()
