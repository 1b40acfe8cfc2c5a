"""Run a command; print its wall time and peak resident memory (of it and its children).

    python bench/rss.py [--stdout FILE] -- CMD ARGS...
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> None:
    args = sys.argv[1:]
    out_path = "/dev/null"
    if args[:1] == ["--stdout"]:
        out_path, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    started = time.perf_counter()
    with open(out_path, "wb") as out:
        code = subprocess.run(args, stdout=out, stderr=subprocess.DEVNULL, check=False).returncode
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": elapsed, "peak_rss_mb": peak_kb / 1024, "exit": code}))


if __name__ == "__main__":
    main()
