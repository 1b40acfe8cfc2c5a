"""The writer's queue has a bound (writer_queue_max): with the writer held up (the database
locked), inputs past it are refused at once to be retried, /readyz says so, and once the
writer moves again everything it took is stored."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.served import Served, report

pytestmark = pytest.mark.server


def test_a_full_queue_refuses_at_once_and_readyz_says_so(tmp_path: Path) -> None:
    served = Served(tmp_path, TLSSCOPE_WRITER_QUEUE_MAX="3")
    lock = sqlite3.connect(served.db.split("///", 1)[1], isolation_level=None, timeout=30)
    try:
        lock.execute("BEGIN IMMEDIATE")  # the writer waits for this lock
        with ThreadPoolExecutor(8) as pool:
            held = [pool.submit(served.post, report(f"held-{n}"), 120) for n in range(3)]
            time.sleep(1.0)  # those three are with the writer now
            started = time.monotonic()
            refused = list(pool.map(lambda n: served.post(report(f"more-{n}")), range(5)))
            waited = time.monotonic() - started
            ready = httpx.get(f"{served.url}/readyz", timeout=10)
            lock.execute("ROLLBACK")
            stored = [future.result().status_code for future in held]
        assert [answer.status_code for answer in refused] == [503] * 5
        assert all("queue is full" in answer.text for answer in refused)
        assert waited < 10  # refused at once, not after writer_answer_seconds
        assert ready.status_code == 503 and "queue is full" in ready.json()["queue"]
        assert stored == [201, 201, 201]
        assert httpx.get(f"{served.url}/readyz", timeout=10).status_code == 200
    finally:
        lock.close()
        served.stop()
