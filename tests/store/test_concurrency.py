"""Concurrent writers never duplicate or lose a report; a killed ingest loses nothing committed.

Threads on SQLite, processes on PostgreSQL (and on SQLite too), with overlapping inputs.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.support import reads
from tests.support.ingest import ingest_paths
from tlsscope.store import Store
from tlsscope.store import tables as t

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
import corpus

pytestmark = pytest.mark.server

ALL_TIME = (dt.date(2000, 1, 1), dt.date(2100, 1, 1))


def _make_corpus(folder: Path, count: int) -> dict[str, int]:
    """`count` distinct report files; returns the expected totals."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {"reports": 0, "successful": 0, "failed": 0}
    for i in range(count):
        doc = corpus.report(1 + i % 3, seed=i, day=1 + i % 28, domain=f"d{i % 7}.example")
        del doc["policies"][1]  # one sts policy: every session counts for the domain
        (folder / f"r{i:05d}.json").write_bytes(corpus.compact(doc))
        expected["reports"] += 1
        expected["successful"] += doc["policies"][0]["summary"]["total-successful-session-count"]
        expected["failed"] += doc["policies"][0]["summary"]["total-failure-session-count"]
    return expected


def _check(store: Store, expected: dict[str, int]) -> None:
    with store.engine.connect() as connection:
        reports = connection.execute(select(func.count()).select_from(t.reports)).scalar_one()
        policies = connection.execute(select(func.count()).select_from(t.policies)).scalar_one()
    assert reports == expected["reports"]
    assert policies == expected["reports"]
    totals = reads.stats(store, None, *ALL_TIME)
    assert (totals.reports, totals.successful, totals.failed) == (
        expected["reports"], expected["successful"], expected["failed"])


def test_threads_ingesting_overlapping_inputs(db_url: str, tmp_path: Path) -> None:
    expected = _make_corpus(tmp_path / "c", 400)
    files = sorted((tmp_path / "c").iterdir())
    Store.open(db_url).close()  # schema first; then the writers race on data only
    errors: list[BaseException] = []

    def worker(part: list[Path]) -> None:
        try:
            with Store.open(db_url) as store:
                ingest_paths(store, part)
        except BaseException as exc:  # a thread must report, not swallow, its failure
            errors.append(exc)

    parts = [files[0:300], files[100:400], files[::2], files[::-1]]
    threads = [threading.Thread(target=worker, args=(part,)) for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store.open(db_url) as store:
        _check(store, expected)


def _process_worker(url: str, paths: list[str]) -> None:
    with Store.open(url) as store:
        ingest_paths(store, paths)


def test_processes_ingesting_overlapping_inputs(db_url: str, tmp_path: Path) -> None:
    expected = _make_corpus(tmp_path / "c", 400)
    files = [str(p) for p in sorted((tmp_path / "c").iterdir())]
    context = multiprocessing.get_context("spawn")
    parts = [files[0:300], files[100:400], files[::2]]
    workers = [context.Process(target=_process_worker, args=(db_url, part)) for part in parts]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
        assert worker.exitcode == 0
    with Store.open(db_url) as store:
        _check(store, expected)


@pytest.mark.slow
def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_kill_9_mid_ingest_then_again(db_url: str, tmp_path: Path) -> None:
    expected = _make_corpus(tmp_path / "c", 3000)
    Store.open(db_url).close()
    command = [sys.executable, "-m", "tlsscope", "ingest", "--json", "--db", db_url,
               str(tmp_path / "c")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    with Store.open(db_url) as store:  # wait until some batches are committed, then kill
        while time.monotonic() < deadline and process.poll() is None:
            with store.engine.connect() as connection:
                done = connection.execute(select(func.count()).select_from(t.reports)).scalar_one()
            if done >= 500:
                break
            time.sleep(0.02)
    assert process.poll() is None, "the ingest finished before it could be killed"
    workers = _children(process.pid)  # its reader processes (--jobs)
    assert workers or (os.cpu_count() or 1) < 2  # one reader beside it on two cores
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10  # they end with their parent, not wait for ever
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, f"orphaned workers: {workers}"
        time.sleep(0.1)
    with Store.open(db_url) as store:
        with store.engine.connect() as connection:
            partial = connection.execute(select(func.count()).select_from(t.reports)).scalar_one()
        assert 0 < partial < expected["reports"]
    again = subprocess.run(command, capture_output=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    with Store.open(db_url) as store:
        _check(store, expected)
