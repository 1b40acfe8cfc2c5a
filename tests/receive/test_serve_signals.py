"""`tlsscope serve` stops within 10 s on SIGTERM or SIGINT, to its whole process group (what
systemd does) or to itself alone, and a second signal stops it at once."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import reads
from tests.support.served import Served, gone, report
from tlsscope.store import Store

pytestmark = pytest.mark.server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    running = Served(tmp_path, TLSSCOPE_HTTP_BODY_TIMEOUT="60")
    try:
        yield running
    finally:
        running.stop()


def _settled(served: Served) -> None:
    """A report stored, and time for the analyst to be in its loop (where a group signal
    used to leave the parent waiting on it for ever)."""
    assert served.post(report("before-the-signal")).status_code == 201
    time.sleep(2)


def _children(served: Served) -> list[int]:
    return served.pids("writer") + served.pids("analyst")


def test_sigterm_to_the_group_stops_it_within_10_s(served: Served) -> None:
    _settled(served)
    served.to_group(signal.SIGTERM)
    assert served.exits_within(10) < 10
    assert served.process.returncode == 0, served.log.read_text()
    assert all(gone(pid) for pid in _children(served))
    messages = [line["message"] for line in served.lines()]
    assert "stopping" in messages and messages[-1] == "stopped"
    assert "process died" not in messages  # the children ignored the signal and were told
    with Store.open(served.db) as store:
        assert [r.report_id for r in reads.reports(store)] == ["before-the-signal"]


def test_sigint_to_the_main_process_alone_stops_it_within_10_s(served: Served) -> None:
    _settled(served)
    served.process.send_signal(signal.SIGINT)
    assert served.exits_within(10) < 10
    assert served.process.returncode == 0, served.log.read_text()
    assert all(gone(pid) for pid in _children(served))


def test_a_second_signal_stops_a_slow_shutdown_at_once(served: Served) -> None:
    _settled(served)
    # A request in flight whose body never comes: the shutdown waits for it (up to its
    # grace time), so it is still under way when the second signal arrives.
    slow = socket.create_connection(("127.0.0.1", served.port))
    slow.sendall(b"POST /v1/tlsrpt HTTP/1.1\r\nHost: x\r\nContent-Type: application/tlsrpt+gzip"
                 b"\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100)
    time.sleep(0.3)
    try:
        served.to_group(signal.SIGTERM)
        time.sleep(1.0)
        assert served.process.poll() is None  # still finishing the request in flight
        served.to_group(signal.SIGTERM)
        assert served.exits_within(2) < 2
    finally:
        slow.close()
    assert served.process.returncode == 128 + signal.SIGTERM
    assert all(gone(pid) for pid in _children(served))
    messages = [line["message"] for line in served.lines()]
    assert "second signal: stopping at once" in messages
    with Store.open(served.db) as store:  # what was acknowledged is there
        assert [r.report_id for r in reads.reports(store)] == ["before-the-signal"]


def test_without_a_second_signal_a_slow_shutdown_still_ends_within_10_s(
        served: Served) -> None:
    _settled(served)
    slow = socket.create_connection(("127.0.0.1", served.port))
    slow.sendall(b"POST /v1/tlsrpt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nx")
    time.sleep(0.3)
    try:
        served.to_group(signal.SIGTERM)
        assert served.exits_within(10) < 10
    finally:
        slow.close()
    assert served.process.returncode == 0, served.log.read_text()


def test_an_input_in_flight_at_the_stop_gets_a_retryable_answer(served: Served) -> None:
    import contextlib
    import os
    import threading

    (writer,) = served.pids("writer")
    os.kill(writer, signal.SIGSTOP)  # the input cannot be stored before the stop
    answers: list[object] = []
    sender = threading.Thread(target=lambda: answers.append(served.post(report("late"))))
    sender.start()
    time.sleep(1)
    served.to_group(signal.SIGTERM)
    sender.join(15)
    with contextlib.suppress(ProcessLookupError):  # (it is killed on the way out anyway)
        os.kill(writer, signal.SIGCONT)
    (answer,) = answers
    assert answer.status_code == 503, answer.text  # type: ignore[attr-defined]
    assert answer.headers.get("retry-after")  # type: ignore[attr-defined]
    assert served.exits_within(10) < 10
    assert "Traceback" not in served.log.read_text()
