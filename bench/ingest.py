"""Ingest speed and memory: `tlsscope ingest` into a fresh SQLite file, then the same again.

    python bench/ingest.py [--inputs 20000] [--peer-cli .venv-peer/bin/parsedmarc] [--mbox-mb 1000]

Start-up included, wall clock. parsedmarc has no database of its own: for reference it is
timed writing its JSON output files (`parsedmarc --offline -o DIR`) on the same inputs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402

TLSSCOPE = Path(sys.executable).parent / "tlsscope"


def measure(command: list[str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, str(HERE / "rss.py"), "--", *command],
                          capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", type=int, default=20000)
    parser.add_argument("--peer-cli")
    parser.add_argument("--mbox-mb", type=int, default=1000)
    args = parser.parse_args()
    folder = corpus.mixed(args.inputs)
    db = HERE / "data" / "ingest-bench.db"
    for path in db.parent.glob(db.name + "*"):
        path.unlink()
    url = f"sqlite:///{db}"
    first = measure([str(TLSSCOPE), "ingest", "--json", "--db", url, str(folder)])
    again = measure([str(TLSSCOPE), "ingest", "--json", "--db", url, str(folder)])
    rows = ["| run | inputs | seconds | inputs/s | peak RSS |", "|---|---:|---:|---:|---:|"]
    for name, result in (("tlsscope ingest, new store", first),
                         ("tlsscope ingest, all duplicates", again)):
        rows.append(f"| {name} | {args.inputs} | {result['seconds']:.2f} | "
                    f"{args.inputs / result['seconds']:,.0f} | {result['peak_rss_mb']:.0f} MB |")
    if args.peer_cli:
        out = HERE / "data" / "peer-out"
        shutil.rmtree(out, ignore_errors=True)
        files = sorted(str(p) for p in folder.iterdir())
        peer = measure([args.peer_cli, "--offline", "-s", "-o", str(out), *files])
        rows.append(f"| parsedmarc --offline -o DIR (JSON files, no database) | {args.inputs} | "
                    f"{peer['seconds']:.2f} | {args.inputs / peer['seconds']:,.0f} | "
                    f"{peer['peak_rss_mb']:.0f} MB |")
    print("\n".join(rows), flush=True)
    if args.mbox_mb:
        mbox = corpus.big_mbox(args.mbox_mb * 1_000_000)
        for path in db.parent.glob("mbox-bench.db*"):
            path.unlink()
        result = measure([str(TLSSCOPE), "ingest", "--json", "--db",
                          f"sqlite:///{db.parent / 'mbox-bench.db'}", str(mbox)])
        print(f"\n| ingest of {mbox.name} ({mbox.stat().st_size / 1e6:,.0f} MB) | "
              f"{result['seconds']:.1f} s | peak RSS {result['peak_rss_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
