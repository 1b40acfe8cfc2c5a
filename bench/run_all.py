"""Benchmarks against parsedmarc, same inputs, same run. Prints Markdown tables with ratios.

    python bench/run_all.py --peer .venv-peer/bin/python --peer-cli .venv-peer/bin/parsedmarc

1. The JSON reader: tlsscope's `read_json` (every field, plus findings) against parsedmarc's
   `parse_smtp_tls_report_json`, per input, microseconds per report (best of 5).
2. End to end: `tlsscope parse --json DIR` against `parsedmarc --offline FILES` on a few
   thousand mixed inputs (JSON, gzip, mail), start-up included (best of 3 runs each).
3. Memory: `tlsscope parse --json` streaming a large mbox; peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402

OURS = Path(sys.executable)
TLSSCOPE = OURS.parent / "tlsscope"


def run_json(python: str, impl: str) -> dict[str, float | str]:
    done = subprocess.run([python, str(HERE / "time_json.py"), impl], capture_output=True,
                          text=True, check=True)
    result: dict[str, float | str] = json.loads(done.stdout)
    return result


def timed(command: list[str], runs: int, stdout: Path) -> float:
    best = float("inf")
    for _ in range(runs):
        done = subprocess.run([str(OURS), str(HERE / "rss.py"), "--stdout", str(stdout), "--",
                               *command], capture_output=True, text=True, check=True)
        best = min(best, json.loads(done.stdout)["seconds"])
    return best


def json_table(peer_python: str) -> list[str]:
    ours, peer = run_json(str(OURS), "ours"), run_json(peer_python, "peer")
    lines = ["| input | tlsscope µs | parsedmarc µs | speed-up |", "|---|---:|---:|---:|"]
    for name, mine in ours.items():
        theirs = peer.get(name, "-")
        if isinstance(theirs, float) and isinstance(mine, float):
            lines.append(f"| {name} | {mine:,.1f} | {theirs:,.1f} | {theirs / mine:.2f}x |")
        else:
            lines.append(f"| {name} | {mine:,.1f} | {theirs} | - |")
    return lines


def end_to_end(peer_cli: str, count: int) -> list[str]:
    folder = corpus.mixed(count)
    files = sorted(str(p) for p in folder.iterdir())
    out_ours, out_peer = HERE / "data" / "ours.json", HERE / "data" / "peer.json"
    ours = timed([str(TLSSCOPE), "parse", "--json", str(folder)], 3, out_ours)
    peer = timed([peer_cli, "--offline", *files], 3, out_peer)
    got_ours = sum(len(e["reports"]) for e in json.loads(out_ours.read_bytes()))
    got_peer = len(json.loads(out_peer.read_bytes())["smtp_tls_reports"])
    return ["| tool | inputs | reports read | seconds (best of 3) | speed-up |",
            "|---|---:|---:|---:|---:|",
            f"| tlsscope parse --json | {count} | {got_ours} | {ours:.3f} | {peer / ours:.2f}x |",
            f"| parsedmarc --offline | {count} | {got_peer} | {peer:.3f} | 1.00x |"]


def memory(megabytes: int) -> list[str]:
    mbox = corpus.big_mbox(megabytes * 1_000_000)
    done = subprocess.run([str(OURS), str(HERE / "rss.py"), "--", str(TLSSCOPE), "parse",
                           "--json", str(mbox)], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    size = mbox.stat().st_size / 1e6
    return ["| input | size | seconds | peak RSS |", "|---|---:|---:|---:|",
            f"| {mbox.name} | {size:,.0f} MB | {result['seconds']:.1f} | "
            f"{result['peak_rss_mb']:.0f} MB |"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer", required=True, help="python of a venv with parsedmarc")
    parser.add_argument("--peer-cli", required=True, help="the parsedmarc command")
    parser.add_argument("--inputs", type=int, default=3000)
    parser.add_argument("--mbox-mb", type=int, default=1000)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}\n")
    print("## JSON reader, microseconds per report\n")
    print("\n".join(json_table(args.peer)), "\n", flush=True)
    print("## End to end, start-up included\n")
    print("\n".join(end_to_end(args.peer_cli, args.inputs)), "\n", flush=True)
    print("## Memory while streaming an mbox\n")
    print("\n".join(memory(args.mbox_mb)), flush=True)


if __name__ == "__main__":
    main()
