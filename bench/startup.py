"""Start-up cost of each command, against the same run's `tlsscope --version`.

    python bench/startup.py [--runs 15] [--tlsscope PATH] [--peer-cli PATH]

What an MTA pipe or a shell user pays before anything is done: the median wall time of
`--version`, `--help`, `parse FILE`, and `ingest -` of one mail (a distinct one each run, so
that each is a real insert) into an existing SQLite store, both on its own and handed to a
running `tlsscope serve` (the fast pipe, receive/pipe.py). DKIM is checked as for any piped
mail, against a loopback DNS server that answers at once. With --peer-cli, parsedmarc's
start-up on the same report file is shown for comparison.

Targets (issue 12): ingest - < 0.3 s, --help < 0.2 s, parse < 0.25 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from tests.support.dnsserver import DnsServer  # noqa: E402
from tests.support.webserver import free_port, wait_healthy  # noqa: E402

MAIL = ROOT / "tests" / "fixtures" / "real" / "google-tlsrpt-digest-success-1.eml"
REPORT = ROOT / "tests" / "fixtures" / "real" / "rfc8460-appendix-example.json"
TARGETS = {"--help": 0.2, "parse FILE": 0.25, "ingest - (direct)": 0.3,
           "ingest - (to serve)": 0.3}


def timed(command: list[str], env: dict[str, str], stdin: bytes | None = None) -> float:
    """Wall time to exit. No `timeout=`: with one, subprocess polls the child with sleeps
    of up to 50 ms, which is the size of the differences measured here."""
    started = time.perf_counter()
    done = subprocess.run(command, input=stdin, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}")
    return elapsed


def median(runs: int, make: Callable[[int], float]) -> float:
    return statistics.median(make(i) for i in range(runs))


def mail(i: int) -> bytes:
    """The sample mail with a header of its own: another input each run (same report)."""
    return f"X-Bench-Run: {i} {time.time_ns()}\r\n".encode() + MAIL.read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tlsscope", default=str(Path(sys.executable).parent / "tlsscope"))
    parser.add_argument("--peer-cli", default="")
    args = parser.parse_args()
    tool, runs = args.tlsscope, args.runs
    folder = Path(tempfile.mkdtemp(prefix="tlsscope-startup-"))
    db = f"sqlite:///{folder / 'store.db'}"
    with DnsServer({}) as dns:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("TLSSCOPE_")},
               "TLSSCOPE_DNS_NAMESERVER": f"{dns.address[0]}:{dns.address[1]}"}
        subprocess.run([tool, "ingest", "--db", db, str(MAIL)], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # the store exists, migrated
        figures = {
            "--version": median(runs, lambda i: timed([tool, "--version"], env)),
            "--help": median(runs, lambda i: timed([tool, "--help"], env)),
            "parse FILE": median(runs, lambda i: timed([tool, "parse", str(REPORT)], env)),
            "ingest - (direct)": median(runs, lambda i: timed(
                [tool, "ingest", "--db", db, "-"], env, mail(i))),
        }
        figures["ingest - (to serve)"] = _with_serve(tool, db, env, runs)
        fresh = [f"sqlite:///{folder / f'new{i}.db'}" for i in range(5)]
        figures["ingest - (new store)"] = median(5, lambda i: timed(
            [tool, "ingest", "--db", fresh[i], "-"], env, mail(i)))
        if args.peer_cli:
            figures["parsedmarc FILE (peer)"] = median(5, lambda i: timed(
                [args.peer_cli, str(REPORT)], env))
    shutil.rmtree(folder, ignore_errors=True)
    _print(figures)


def _with_serve(tool: str, db: str, env: dict[str, str], runs: int) -> float:
    port = free_port()
    log = tempfile.TemporaryFile()
    serve = subprocess.Popen(
        [tool, "serve", "--db", db, "--listen", f"127.0.0.1:{port}"],
        env={**env, "TLSSCOPE_CHECK_EVERY_HOURS": "0", "TLSSCOPE_ADMIN_PASSWORD": "bench-password"},
        stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:
        try:
            wait_healthy(f"http://127.0.0.1:{port}", serve, seconds=60)
        except AssertionError:
            log.seek(0)
            sys.exit(f"serve did not start:\n{log.read().decode()[-3000:]}")
        time.sleep(1)
        return median(runs, lambda i: timed([tool, "ingest", "--db", db, "-"], env,
                                            mail(10_000 + i)))
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)
            try:
                serve.wait(15)
            except subprocess.TimeoutExpired:  # (versions before issue 12 hung here)
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait(15)


def _print(figures: dict[str, float]) -> None:
    base = figures["--version"]
    print("| command (median) | seconds | x --version | target |")
    print("|---|---|---|---|")
    for name, seconds in figures.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else (
            f"< {target} s {'met' if seconds < target else 'MISSED'}")
        print(f"| `{name}` | {seconds:.3f} | {seconds / base:.1f} | {verdict} |")


if __name__ == "__main__":
    main()
