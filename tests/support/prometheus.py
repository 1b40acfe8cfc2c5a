"""A real Prometheus (Debian's `prometheus`) on loopback with a temporary config and storage: it
scrapes one target every second and evaluates rule files every second; `query` asks its HTTP
API for an instant vector."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.webserver import free_port

BINARY = "/usr/bin/prometheus"


def skip_unless_available() -> None:
    if os.environ.get("TLSSCOPE_TEST_PROMETHEUS") == "skip":
        pytest.skip("TLSSCOPE_TEST_PROMETHEUS=skip")
    assert shutil.which("prometheus") or os.path.exists(BINARY), (
        "prometheus is not installed: `make system-deps` installs it (or set "
        "TLSSCOPE_TEST_PROMETHEUS=skip)")


class Prometheus:
    def __init__(self, folder: Path, target: str, rules: list[Path],
                 metrics_path: str = "/metrics") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        rule_lines = "".join(f"  - {rule}\n" for rule in rules)
        config = folder / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n{rule_lines}"
            "scrape_configs:\n  - job_name: tlsscope\n"
            f"    metrics_path: {metrics_path}\n"
            f"    static_configs:\n      - targets: ['{target}']\n")
        self.log = (folder / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [shutil.which("prometheus") or BINARY, f"--config.file={config}",
             f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, (folder / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "Prometheus did not start"
            time.sleep(0.2)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar, as one sample) `expr` evaluates to now."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = answer.json()
        assert answer.status_code == 200 and body["status"] == "success", (expr, body)
        data = body["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The one value of `expr` (None: no sample)."""
        found = self.query(expr)
        assert len(found) <= 1, (expr, found)
        return float(found[0]["value"][1]) if found else None

    def rules(self) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url}/api/v1/rules", timeout=10).json()
        return [rule for group in body["data"]["groups"] for rule in group["rules"]]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()
