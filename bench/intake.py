"""Intake speed of `tlsscope serve`: HTTPS POSTs with wrk, and SMTP over one connection.

    python bench/intake.py [--seconds 10] [--connections 32] [--mails 2000]

HTTPS: `tlsscope serve` (one process, uvicorn with uvloop) on loopback with a fresh SQLite
file; wrk (Debian's package) POSTs *distinct* gzip reports (so each is a durable insert, not
a duplicate) from a Lua script that cycles through pre-made bodies. A 201 is only sent after
the commit, so requests/s = durable reports/s. The load generator shares the 2 cores.

SMTP: the same server's SMTP receiver with STARTTLS (a throwaway certificate made with
trustme); one smtplib connection sends distinct report mails back to back.
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
from pathlib import Path

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402

TLSSCOPE = Path(sys.executable).parent / "tlsscope"
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(folder: Path, http_port: int, smtp_port: int) -> subprocess.Popen[bytes]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    env = {**os.environ, "TLSSCOPE_HTTP_RATE_PER_MINUTE": "0", "TLSSCOPE_CHECK_EVERY_HOURS": "0",
           "TLSSCOPE_CHECK_ON_FAILURE": "false"}  # no live re-checks of the made-up domains
    process = subprocess.Popen(
        [str(TLSSCOPE), "serve", "--db", f"sqlite:///{folder / 'intake.db'}",
         "--listen", f"127.0.0.1:{http_port}", "--smtp", f"127.0.0.1:{smtp_port}",
         "--rua-address", "tls@example.com", "--tls-cert", str(folder / "server.pem"),
         "--tls-key", str(folder / "server.pem")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"https://127.0.0.1:{http_port}/healthz", timeout=1,
                         verify=False).is_success:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("tlsscope serve did not start")


def http_run(folder: Path, port: int, seconds: int, connections: int) -> str:
    bodies = folder / "bodies.bin"
    with bodies.open("wb") as out:
        for i in range(60_000):
            doc = corpus.report(1 + i % 3, seed=i, day=1 + i % 28, domain=f"d{i % 40}.example",
                                org=f"Sender {i}")
            data = gzip.compress(corpus.compact(doc), mtime=0)
            out.write(f"{len(data)}\n".encode() + data)
    script = folder / "post.lua"
    script.write_text(LUA % bodies)
    subprocess.run(["wrk", "-t1", "-c8", "-d2s", "-s", str(script),
                    f"https://127.0.0.1:{port}"], capture_output=True, check=True)  # warm-up
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                           "-s", str(script), f"https://127.0.0.1:{port}"],
                          capture_output=True, text=True, check=True)
    return done.stdout


def smtp_run(folder: Path, port: int, mails: int) -> tuple[float, int]:
    context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    messages = [corpus.mail(corpus.report(1, seed=10**6 + i, domain=f"m{i % 40}.example"))
                .replace(b"\n", b"\r\n") for i in range(mails)]
    began = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.starttls(context=context)
        for message in messages:
            client.sendmail("noreply-smtp-tls-reporting@google.com", ["tls@example.com"],
                            message)
    return time.perf_counter() - began, mails


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--mails", type=int, default=2000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    folder = Path(tempfile.mkdtemp(prefix="tlsscope-intake-"))
    http_port, smtp_port = free_port(), free_port()
    process = start(folder, http_port, smtp_port)
    try:
        report = http_run(folder, http_port, args.seconds, args.connections)
        elapsed, sent = smtp_run(folder, smtp_port, args.mails)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", report)
    p99 = re.search(r"99%\s+([\d.]+\w+)", report)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    print(json.dumps({"http_requests_per_s": float(rate.group(1)) if rate else None,
                      "http_p99": p99.group(1) if p99 else None,
                      "http_non_2xx": int(non2xx.group(1)) if non2xx else 0,
                      "smtp_mails_per_s": round(sent / elapsed, 1)}))
    print(report)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
