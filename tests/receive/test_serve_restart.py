"""`tlsscope serve` supervises its writer and analyst: one killed (kill -9, as the OOM killer
does) is logged and restarted; meanwhile senders are told to retry (503 + Retry-After), never
refused, and every report acknowledged is stored exactly once."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import reads
from tests.support.served import Served, report
from tlsscope.store import Store

pytestmark = pytest.mark.server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    running = Served(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def _until(seconds: float, condition: object) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class Traffic:
    """A sender posting one new report after another, as fast as it is answered."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.answers: list[tuple[str, int, str | None]] = []  # report-id, status, Retry-After
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            answer = self.served.post(report(f"flow-{i}"))
            self.answers.append((f"flow-{i}", answer.status_code,
                                 answer.headers.get("retry-after")))

    def acknowledged(self) -> list[str]:
        return [rid for rid, status, _ in self.answers if 200 <= status < 300]


def test_a_killed_writer_is_restarted_while_reports_flow(served: Served) -> None:
    (first,) = served.pids("writer")
    traffic = Traffic(served)
    try:
        _until(30, lambda: len(traffic.acknowledged()) >= 20)
        os.kill(first, signal.SIGKILL)
        _until(30, lambda: len(served.pids("writer")) == 2)
        acknowledged = len(traffic.acknowledged())
        _until(30, lambda: len(traffic.acknowledged()) >= acknowledged + 20)  # flowing again
    finally:
        traffic.stop.set()
        traffic.thread.join(60)
    statuses = {status for _, status, _ in traffic.answers}
    assert statuses <= {201, 503}, statuses  # never a refusal, never another error
    unavailable = [(rid, after) for rid, status, after in traffic.answers if status == 503]
    assert unavailable and all(after == "60" for _, after in unavailable)
    (died,) = [line for line in served.lines() if line["message"] == "process died"]
    assert died["process"] == "writer" and died["pid"] == first
    assert died["exit_code"] == -signal.SIGKILL and died["restart_in"] == 0.5
    with Store.open(served.db) as store:
        stored = [r.report_id for r in reads.reports(store, limit=100_000)]
    assert len(stored) == len(set(stored))  # nothing twice
    assert set(traffic.acknowledged()) <= set(stored)  # nothing acknowledged lost
    # The senders retry what got 503: stored now, or recognised (the dead writer may have
    # committed it before it could answer), and still once.
    for rid, _ in unavailable:
        assert served.post(report(rid)).status_code in (200, 201)
    with Store.open(served.db) as store:
        stored = [r.report_id for r in reads.reports(store, limit=100_000)]
    assert sorted(stored) == sorted(rid for rid, _, _ in traffic.answers)
    print(json.dumps({"posted": len(traffic.answers), "unavailable": len(unavailable),
                      "acknowledged": len(traffic.acknowledged())}))


def test_readyz_says_503_while_a_child_is_down_and_200_once_it_is_back(
        served: Served) -> None:
    def health() -> httpx.Response:
        return httpx.get(f"{served.url}/readyz", timeout=5)

    ok = health()
    assert ok.status_code == 200
    assert ok.json() == {"status": "ok", "writer": "ok", "analyst": "ok", "queue": "ok",
                         "database": "ok", "schema": "ok"}
    for name in ("writer", "analyst"):
        (pid,) = served.pids(name)
        os.kill(pid, signal.SIGKILL)
        answer = health()
        deadline = time.monotonic() + 30
        while answer.status_code == 200:
            assert time.monotonic() < deadline, "/readyz still says 200"
            assert httpx.get(f"{served.url}/healthz", timeout=5).status_code == 200  # alive
            answer = health()
        assert answer.status_code == 503
        down = answer.json()
        assert down["status"] == "unavailable" and down["database"] == "ok"
        assert down[name] != "ok", down
        assert all(down[other] == "ok" for other in ("writer", "analyst") if other != name)
        _until(30, lambda: health().status_code == 200)
        assert len(served.pids(name)) == 2
    died = [(line["process"], line["exit_code"]) for line in served.lines()
            if line["message"] == "process died"]
    assert died == [("writer", -9), ("analyst", -9)]


def test_a_stuck_writer_makes_senders_retry_within_the_budget(tmp_path: Path) -> None:
    served = Served(tmp_path, TLSSCOPE_WRITER_ANSWER_SECONDS="1.5")
    try:
        (writer,) = served.pids("writer")
        os.kill(writer, signal.SIGSTOP)  # alive, holding nothing, answering nothing
        try:
            started = time.monotonic()
            stuck = served.post(report("stuck-1"))
            waited = time.monotonic() - started
        finally:
            os.kill(writer, signal.SIGCONT)
        assert stuck.status_code == 503 and stuck.headers.get("retry-after"), stuck.text
        assert 1.4 < waited < 10, waited
        assert any(line["message"] == "writer did not answer" for line in served.lines())
        deadline = time.monotonic() + 30
        while (again := served.post(report("stuck-1"))).status_code == 503:  # the retries
            assert time.monotonic() < deadline, again.text
            time.sleep(0.2)
        assert again.status_code in (200, 201), again.text  # stored once either way
    finally:
        served.stop()
    with Store.open(served.db) as store:
        assert [r.report_id for r in reads.reports(store)].count("stuck-1") == 1


def test_a_hung_writer_shows_in_readyz_and_is_replaced(tmp_path: Path) -> None:
    served = Served(tmp_path, TLSSCOPE_WRITER_ANSWER_SECONDS="1.5")
    try:
        (writer,) = served.pids("writer")
        os.kill(writer, signal.SIGSTOP)  # never resumed: only a replacement helps
        assert served.post(report("hung-1")).status_code == 503
        health = httpx.get(f"{served.url}/readyz", timeout=5)
        assert health.status_code == 503, health.text
        assert "has not answered" in health.json()["writer"]
        _until(30, lambda: len(served.pids("writer")) == 2)
        assert any(line["message"] == "process hung: stopped to be replaced"
                   for line in served.lines())
        deadline = time.monotonic() + 30
        while (again := served.post(report("hung-1"))).status_code == 503:
            assert time.monotonic() < deadline, again.text
            time.sleep(0.2)
        assert again.status_code in (200, 201), again.text
        _until(10, lambda: httpx.get(f"{served.url}/readyz", timeout=5).status_code == 200)
    finally:
        served.stop()
    with Store.open(served.db) as store:
        assert [r.report_id for r in reads.reports(store)].count("hung-1") == 1
