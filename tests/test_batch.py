"""Parallel reading gives exactly the sequential answer, in order, duplicates included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tlsscope.batch import PARALLEL_FROM, keep, read_all
from tlsscope.settings import Settings

pytestmark = pytest.mark.server

FIX = Path(__file__).parent / "fixtures"


def _folder(tmp_path: Path) -> Path:
    """Enough inputs to go parallel: every fixture twice (so duplicates), plus an mbox."""
    folder = tmp_path / "many"
    folder.mkdir()
    sources = sorted((FIX / "real").iterdir()) + sorted((FIX / "quirks").iterdir())
    for copy in ("a", "b"):
        for source in sources:
            shutil.copy(source, folder / f"{copy}-{source.name}")
    assert len(list(folder.iterdir())) > PARALLEL_FROM
    return folder


def test_parallel_equals_sequential(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    one = list(read_all([str(folder)], Settings(), 1, keep))
    two = list(read_all([str(folder)], Settings(), 2, keep))
    assert [r.source for r in one] == [r.source for r in two]
    assert one == two


def test_cli_json_is_identical_with_one_or_two_jobs(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    runs = []
    for jobs in ("1", "2"):
        done = subprocess.run([sys.executable, "-m", "tlsscope", "parse", "--json", "-j", jobs,
                               str(folder)], capture_output=True, check=False, timeout=300,
                              env={**os.environ, "TZ": "UTC"})
        assert done.returncode == 1  # the error fixtures are rejected
        runs.append(done.stdout)
    assert runs[0] == runs[1]
    entries = json.loads(runs[0])
    outcomes = {e["source"].rsplit("/", 1)[-1]: e["outcome"] for e in entries}
    assert outcomes["a-additional-information-not-uri.json"] == "accepted"  # first of its id
    assert outcomes["a-report.json.gz"] == "duplicate"
    assert outcomes["b-report-id-trailing-plus.json"] == "duplicate"
    assert outcomes["b-error-truncated.json.gz"] == "rejected"
    mbox = [e for e in entries if "a-reports.mbox#" in e["source"]]
    assert [e["outcome"] for e in mbox] == ["duplicate", "not_a_report", "duplicate"]
