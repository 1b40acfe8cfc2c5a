"""The supervisor restarts children that die, waiting longer each time, and starts over once
one has run steadily. Stand-in processes: no process is started."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator

import pytest

from tlsscope.children import Supervisor


class FakeProcess:
    """Dead or alive as told; its sentinel a pipe, readable once it is dead."""

    def __init__(self, pid: int) -> None:
        self.pid, self.exitcode = pid, None
        self.sentinel, self._w = os.pipe()

    def close(self) -> None:
        os.close(self.sentinel)
        os.close(self._w)


class FakeChild:
    def __init__(self, name: str, dies_after: float = 0.0, fail_restarts: int = 0) -> None:
        self.name, self.dies_after, self.fail_restarts = name, dies_after, fail_restarts
        self.restarts: list[float] = []
        self.processes = [FakeProcess(1)]
        self.started = time.monotonic()
        self.lock = threading.Lock()

    @property
    def process(self) -> FakeProcess:
        return self.processes[-1]

    def restart(self) -> None:
        if self.fail_restarts:
            self.fail_restarts -= 1
            raise OSError(11, "Resource temporarily unavailable")
        with self.lock:
            self.restarts.append(time.monotonic())
            self.processes.append(FakeProcess(len(self.processes) + 1))
            self.started = time.monotonic()

    def die(self, code: int = -9) -> None:
        self.process.exitcode = code  # type: ignore[assignment]
        os.write(self.process._w, b"x")


@pytest.fixture
def cleanup() -> Iterator[list[FakeChild]]:
    children: list[FakeChild] = []
    yield children
    for child in children:
        for process in child.processes:
            process.close()


def _run(children: list[FakeChild], seconds: float, **timing: float) -> Supervisor:
    supervisor = Supervisor(children, **timing)  # type: ignore[arg-type]
    supervisor.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for child in children:  # every new process dies at once
            if child.process.exitcode is None and (
                    time.monotonic() - child.started >= child.dies_after):
                child.die()
        time.sleep(0.005)
    supervisor.stop()
    return supervisor


def test_each_restart_waits_twice_as_long_up_to_the_longest(
        cleanup: list[FakeChild], caplog: pytest.LogCaptureFixture) -> None:
    child = FakeChild("writer")
    cleanup.append(child)
    _run([child], 0.9, first=0.05, longest=0.2, steady=10.0)
    waits = [later - earlier for earlier, later in itertools.pairwise(child.restarts)]
    assert len(child.restarts) >= 5
    assert 0.09 <= waits[0] < 0.19  # 0.1 (the first, 0.05, came before restarts[0])
    assert all(0.19 <= wait <= 0.35 for wait in waits[1:])  # then capped at 0.2
    died = [r for r in caplog.records if r.getMessage() == "process died"]
    assert died[0].fields == {"process": "writer", "pid": 1, "exit_code": -9,  # type: ignore[attr-defined]
                              "ran_seconds": died[0].fields["ran_seconds"],  # type: ignore[attr-defined]
                              "restart_in": 0.05}


def test_the_wait_starts_over_after_a_steady_run(cleanup: list[FakeChild]) -> None:
    child = FakeChild("analyst", dies_after=0.08)  # each runs longer than `steady`
    cleanup.append(child)
    _run([child], 0.7, first=0.03, longest=1.0, steady=0.05)
    waits = [later - earlier for earlier, later in itertools.pairwise(child.restarts)]
    assert len(waits) >= 4
    # 0.08 running + 0.03 waiting every time (growing, the 4th would be 0.08 + 0.24)
    assert all(wait < 0.2 for wait in waits)


def test_a_failed_restart_is_tried_again(cleanup: list[FakeChild],
                                         caplog: pytest.LogCaptureFixture) -> None:
    child, other = FakeChild("writer", fail_restarts=2), FakeChild("analyst", dies_after=60)
    cleanup.extend([child, other])
    child.die()
    supervisor = Supervisor([child, other], first=0.02, longest=0.05)  # type: ignore[list-item]
    supervisor.start()
    deadline = time.monotonic() + 5
    while not child.restarts:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    supervisor.stop()
    failed = [r for r in caplog.records if r.getMessage() == "process could not be restarted"]
    assert len(failed) == 2 and other.restarts == []


def test_no_restart_once_stopped(cleanup: list[FakeChild]) -> None:
    child = FakeChild("writer")
    cleanup.append(child)
    supervisor = Supervisor([child], first=0.05)  # type: ignore[list-item]
    supervisor.start()
    supervisor.stop()
    child.die()
    time.sleep(0.2)
    assert child.restarts == []
