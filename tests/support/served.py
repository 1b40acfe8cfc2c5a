"""`tlsscope serve` as systemd runs it: a subprocess in a process group of its own, on a free
loopback port, with a SQLite store in a temporary folder and its JSON logs in a file."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.webserver import free_port, wait_healthy

FIX = Path(__file__).parents[1] / "fixtures"
REPORT = json.loads((FIX / "quirks" / "pretty-sorted.json").read_bytes())


def report(report_id: str) -> bytes:
    """A gzipped report of its own: another report-id is another report."""
    return gzip.compress(json.dumps({**REPORT, "report-id": report_id}).encode())


class Served:
    def __init__(self, folder: Path, **env: str) -> None:
        self._start(folder, None, env)
        self.wait_healthy()

    @classmethod
    def node(cls, folder: Path, db: str, env: dict[str, str]) -> Served:
        """A node of a fleet on the store `db`, started but not yet answering (wait_healthy)."""
        started = cls.__new__(cls)
        started._start(folder, db, env)
        return started

    def _start(self, folder: Path, db: str | None, env: dict[str, str]) -> None:
        self.port = free_port()
        self.db = db or f"sqlite:///{folder / 'serve.db'}"
        self.log = folder / "serve.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tlsscope", "serve", "--db", self.db,
                 "--listen", f"127.0.0.1:{self.port}"],
                stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
                env={**os.environ, "TLSSCOPE_DKIM_VERIFY": "never",
                     "TLSSCOPE_CHECK_EVERY_HOURS": "0", "TLSSCOPE_CHECK_ON_FAILURE": "false",
                     "TLSSCOPE_HTTP_RATE_PER_MINUTE": "0", **env})

    def wait_healthy(self) -> None:
        wait_healthy(self.url, self.process, seconds=60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, body: bytes, timeout: float = 30) -> httpx.Response:
        return httpx.post(f"{self.url}/v1/tlsrpt", content=body, timeout=timeout,
                          headers={"content-type": "application/tlsrpt+gzip"})

    def post_raw(self, body: bytes, content_type: str, timeout: float = 120) -> httpx.Response:
        return httpx.post(f"{self.url}/v1/tlsrpt", content=body, timeout=timeout,
                          headers={"content-type": content_type})

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()
                if line.startswith("{")]

    def pids(self, process: str) -> list[int]:
        """The writer's or analyst's processes so far, as logged when each was started."""
        return [line["pid"] for line in self.lines()
                if line["message"] == "process started" and line["process"] == process]

    def to_group(self, signum: int) -> None:
        """What systemd does: the signal to every process of the group."""
        os.killpg(self.process.pid, signum)

    def exits_within(self, seconds: float) -> float:
        """How long it took to exit (fails past `seconds`)."""
        started = time.monotonic()
        try:
            self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {seconds} s later:\n{self.log.read_text()}"
                                 ) from None
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def gone(pid: int) -> bool:
    """No such process, or only its zombie (nobody may reap it in a container)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")
