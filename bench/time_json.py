"""Time one JSON reader on the benchmark reports; run under either interpreter.

    python bench/time_json.py ours   (tlsscope's read_json: every field, plus its findings)
    python bench/time_json.py peer   (parsedmarc.parse_smtp_tls_report_json)

Prints one JSON object: microseconds per report for each input, best of 5 repeats.
"""

from __future__ import annotations

import json
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import corpus


def reader(impl: str) -> Callable[[bytes], object]:
    if impl == "ours":
        from tlsscope.parse.json_report import read_json

        def ours(data: bytes) -> object:
            results = read_json(data)
            assert not isinstance(results[0], list), results[0]
            return results

        return ours
    if impl == "ours-input":
        from tlsscope.parse import read_input

        return lambda data: read_input(data, "bench")
    import parsedmarc

    parse: Callable[[bytes], object] = parsedmarc.parse_smtp_tls_report_json
    return parse


def best_us(function: Callable[[bytes], object], data: bytes, budget: float) -> float:
    timer = timeit.Timer(lambda: function(data))
    number, elapsed = timer.autorange()
    number = max(1, int(number * budget / max(elapsed, 1e-9)))
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def main() -> None:
    impl = sys.argv[1]
    function = reader(impl)
    inputs = {"small": corpus.small(), "large": corpus.large(), "huge-5000": corpus.huge()}
    for path in sorted(corpus.REAL.glob("*.json")):
        inputs[f"real:{path.stem}"] = path.read_bytes()
    out: dict[str, float | str] = {}
    for name, data in inputs.items():
        try:
            function(data)
        except Exception as exc:  # the peer rejects some real reports; record that instead
            out[name] = f"error: {type(exc).__name__}"
            continue
        budget = 0.3 if name.startswith("real:") else 0.6
        out[name] = best_us(function, data, budget)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
