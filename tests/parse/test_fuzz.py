"""No input may make the reader fail: mutation fuzzing over the real samples, and properties.

`read_input` has a loop guard that turns any unexpected exception into a `reader_failure`
error, so "no unhandled exception" means: that code never appears.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsscope.errors import ReportError
from tlsscope.parse import Outcome, read_input
from tlsscope.parse.json_report import NotAReport, read_json
from tlsscope.parse.results import ReadReport

FIX = Path(__file__).parents[1] / "fixtures"
SEEDS = sorted((FIX / "real").iterdir()) + [
    FIX / "quirks" / n for n in ("report.zip", "reports.mbox", "mail-forwarded-two.eml",
                                 "tlsa-json-array-in-string.json", "mail-rfc2231-filename.eml")]


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not buf:
            break
        at = rng.randrange(len(buf))
        op = rng.randrange(6)
        if op == 0:
            buf[at] = rng.randrange(256)
        elif op == 1:
            del buf[at:at + rng.randint(1, 64)]
        elif op == 2:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 3:
            end = min(len(buf), at + rng.randint(1, 200))
            buf[at:at] = buf[at:end]
        elif op == 4:
            del buf[at:]
        else:
            buf[at:at] = rng.choice([b"{", b"}", b"[", b"]", b'"', b",", b":", b"null", b"-1",
                                     b"1e999", b"\\u0000", b"\r\n--", b"=?utf-8?b?", b"\x1f\x8b"])
    return bytes(buf)


def assert_handled(data: bytes, source: str) -> None:
    result = read_input(data, source, filename=source)
    codes = [e.code for e in result.errors]
    assert "reader_failure" not in codes, (source, result.errors)
    for finding in result.errors + result.warnings:
        assert finding.message


@pytest.mark.slow
@pytest.mark.parametrize("seed_file", SEEDS, ids=lambda p: p.name)
def test_mutated_real_samples_never_break_the_reader(seed_file: Path) -> None:
    rng = random.Random(seed_file.name)
    original = seed_file.read_bytes()
    for round_ in range(150):
        assert_handled(mutate(original, rng), f"{seed_file.name}~{round_}")


@pytest.mark.slow
@pytest.mark.parametrize("seed_file", sorted((FIX / "real").glob("*.json")), ids=lambda p: p.name)
def test_mutated_json_inside_gzip(seed_file: Path) -> None:
    rng = random.Random(seed_file.name + "gz")
    original = seed_file.read_bytes()
    for round_ in range(60):
        assert_handled(gzip.compress(mutate(original, rng), mtime=0), f"{seed_file.name}~{round_}")


# --- structure-aware properties --------------------------------------------------------------

BASE = json.loads((FIX / "quirks" / "pretty-sorted.json").read_bytes())
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out += _paths(value, (*prefix, index))
    return out


PATHS = _paths(BASE)[1:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), ANY_JSON | st.just("<delete>")),
                        min_size=1, max_size=4))
def test_any_value_anywhere_is_an_answer_not_a_crash(changes: list[tuple[Any, Any]]) -> None:
    doc = copy.deepcopy(BASE)
    for path, value in changes:
        target = doc
        try:
            for step in path[:-1]:
                target = target[step]
            if value == "<delete>":
                del target[path[-1]]
            else:
                target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        results = read_json(json.dumps(doc).encode())
    except (ReportError, NotAReport):
        return
    for result in results:
        if isinstance(result, list):
            assert all(f.severity == "error" and f.path for f in result)
        else:
            assert result.report.organization_name is not None


COUNT = st.integers(min_value=0, max_value=2**80)


@settings(max_examples=200, deadline=None)
@given(ok=COUNT, counts=st.lists(COUNT, max_size=5), report_id=st.text(min_size=1, max_size=40),
       org=st.text(min_size=1, max_size=40))
def test_well_formed_reports_keep_exact_counts_and_ids(
        ok: int, counts: list[int], report_id: str, org: str) -> None:
    doc = copy.deepcopy(BASE)
    doc["organization-name"], doc["report-id"] = org, report_id
    entry = doc["policies"][0]
    entry["summary"] = {"total-successful-session-count": ok,
                        "total-failure-session-count": sum(counts)}
    template = entry["failure-details"][0]
    entry["failure-details"] = [{**template, "failed-session-count": n} for n in counts]
    (result,) = read_json(json.dumps(doc).encode())
    assert isinstance(result, ReadReport)
    assert result.report.report_id == report_id and result.report.organization_name == org
    summary = result.report.policies[0].summary
    assert (summary.total_successful_session_count, summary.total_failure_session_count) == (
        ok, sum(counts))
    assert [d.failed_session_count for d in result.report.policies[0].details] == counts
    assert "failure_sum_mismatch" not in {w.code for w in result.warnings}


@settings(max_examples=100, deadline=None)
@given(blob=st.binary(max_size=2048))
def test_random_bytes_are_rejected_or_not_reports(blob: bytes) -> None:
    result = read_input(blob, "random")
    assert result.outcome in (Outcome.REJECTED, Outcome.NOT_A_REPORT)
    assert "reader_failure" not in {e.code for e in result.errors}
