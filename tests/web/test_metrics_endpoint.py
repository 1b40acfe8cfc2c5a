"""GET /metrics: behind metrics_token on the main listener (404 without one set, 401 without
or with a wrong one), open on the metrics listener, which serves nothing else; the service's
counters and the report gauges in one exposition; a database that does not answer leaves the
report gauges out and says so."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tlsscope import counters
from tlsscope.errors import ConfigError
from tlsscope.settings import Settings, load_settings
from tlsscope.store import Saved, Store
from tlsscope.web import metrics
from tlsscope.web.app import create_app

TOKEN = "s3cret-token-for-metrics"


class _NoIntake:
    def submit(self, raw: object) -> Future[Saved]:
        raise AssertionError("nothing is posted here")

    def close(self) -> None:
        pass


def _get(app: object, path: str, base: str = "http://test",
         headers: dict[str, str] | None = None) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            return await client.get(path, headers=headers)

    answers: list[httpx.Response] = []  # a thread of its own: a browser test's loop may run
    runner = threading.Thread(target=lambda: answers.append(asyncio.run(call())))
    runner.start()
    runner.join(30)
    (answer,) = answers
    return answer


def _run(coroutine: Any) -> Any:
    """asyncio.run in a thread of its own: a browser test may leave a loop running here."""
    answers: list[Any] = []
    runner = threading.Thread(target=lambda: answers.append(asyncio.run(coroutine)))
    runner.start()
    runner.join(60)
    (answer,) = answers
    return answer


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_the_main_listener_asks_for_the_token(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'm.db'}") as store:
        closed = create_app(_NoIntake(), Settings(), store=store)
        off = _get(closed, "/metrics")
        assert off.status_code == 404 and "metrics_token" in off.json()["detail"]
        app = create_app(_NoIntake(), Settings(metrics_token=TOKEN), store=store)
        assert _get(app, "/metrics").status_code == 401
        wrong = _get(app, "/metrics", headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        basic = _get(app, "/metrics", headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        ok = _get(app, "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200, ok.text
    assert ok.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = _families(ok.text)
    assert families["tlsscope_metrics_reports_up"].samples[0].value == 1
    (build,) = families["tlsscope_build_info"].samples
    assert build.labels["version"] and build.value == 1
    assert "tlsscope_sessions" in families and "tlsscope_open_findings" in families


def test_the_metrics_listener_needs_no_token_and_serves_nothing_else(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'm.db'}") as store:
        app = create_app(_NoIntake(), Settings(metrics_token=TOKEN), store=store,
                         metrics_port=9464)
        assert _get(app, "/metrics", base="http://test:9464").status_code == 200
        assert _get(app, "/healthz", base="http://test:9464").status_code == 200
        assert _get(app, "/readyz", base="http://test:9464").status_code == 200
        for path in ("/", "/login", "/api/v1/domains", "/docs", "/static/app.css"):
            assert _get(app, path, base="http://test:9464").status_code == 404, path
        # the main listener is as it was: the token still asked for
        assert _get(app, "/metrics", base="http://test:8080").status_code == 401
        assert _get(app, "/login", base="http://test:8080").status_code == 200


def test_a_token_too_short_is_refused_without_being_shown(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={"TLSSCOPE_METRICS_TOKEN": "short-secret"})
    assert "metrics_token" in str(refused.value) and "short-secret" not in str(refused.value)
    for bad in ("pässwörd-0123456789ü", "a token with spaces in it"):  # never matchable
        with pytest.raises(ConfigError, match="printable ASCII") as refused:
            load_settings(environ={"TLSSCOPE_METRICS_TOKEN": bad})
        assert bad not in str(refused.value)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with Store.open(f"sqlite:///{tmp_path / 'm.db'}") as store:
        app = create_app(_NoIntake(), Settings(metrics_token_file=str(token_file)), store=store)
        assert _get(app, "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
                    ).status_code == 200
        token_file.write_text("short")
        with pytest.raises(ConfigError, match="metrics_token_file"):
            create_app(_NoIntake(), Settings(metrics_token_file=str(token_file)), store=store)


def test_a_database_that_hangs_leaves_the_report_gauges_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The first scrape waits for the first read, within REPORT_SECONDS; once that wait ran
    out, no scrape waits again (each would otherwise lose Prometheus's scrape timeout)."""
    release = threading.Event()

    class Hanging:
        def read(self, fn: object, *args: object) -> None:
            release.wait(60)

    monkeypatch.setattr(metrics, "REPORT_SECONDS", 0.3)
    scrape = metrics.Scrape(Hanging(), Settings(), queue_depth=lambda: 7)  # type: ignore[arg-type]
    app = create_app(_NoIntake(), Settings(metrics_token=TOKEN), scrape=scrape)
    try:
        answer = _get(app, "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        monkeypatch.setattr(metrics, "REPORT_SECONDS", 120)  # a wait now outlasts _get's 30 s
        again = _get(app, "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        release.set()
    for scraped in (answer, again):
        assert scraped.status_code == 200
        families = _families(scraped.text)
        assert families["tlsscope_metrics_reports_up"].samples[0].value == 0
        assert families["tlsscope_writer_queue_depth"].samples[0].value == 7
        assert "tlsscope_sessions" not in families


def test_a_read_that_hangs_later_says_so_and_old_gauges_go(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read that worked, then one that hangs: the old gauges are served with up 0 once the
    new read has overrun, and left out once older than MAX_AGE_SECONDS."""
    release = threading.Event()
    with Store.open(f"sqlite:///{tmp_path / 'm.db'}") as real:
        class Sticky:
            hang = False

            def read(self, fn: Any, *args: object) -> Any:
                if self.hang:
                    release.wait(60)
                return real.read(fn, *args)

        store = Sticky()
        monkeypatch.setattr(metrics, "REUSE_SECONDS", 0.0)  # every scrape: a read due
        monkeypatch.setattr(metrics, "REREAD_SECONDS", 0.0)
        monkeypatch.setattr(metrics, "REPORT_SECONDS", 0.2)
        scrape = metrics.Scrape(store, Settings())  # type: ignore[arg-type]
        try:
            first = _families(_run(scrape()).decode())
            assert first["tlsscope_metrics_reports_up"].samples[0].value == 1
            store.hang = True
            _run(scrape())  # starts the read that hangs
            time.sleep(0.4)
            stuck = _families(_run(scrape()).decode())
            assert stuck["tlsscope_metrics_reports_up"].samples[0].value == 0
            assert "tlsscope_sessions" in stuck  # the latest gauges read, with their age
            assert stuck["tlsscope_metrics_reports_age_seconds"].samples[0].value > 0.3
            monkeypatch.setattr(metrics, "MAX_AGE_SECONDS", 0.1)
            gone = _families(_run(scrape()).decode())
            assert gone["tlsscope_metrics_reports_up"].samples[0].value == 0
            assert "tlsscope_sessions" not in gone
        finally:
            release.set()


def test_accept_encoding_is_read_as_http_says() -> None:
    assert metrics.accepts_gzip("gzip")
    assert metrics.accepts_gzip("gzip, deflate")
    assert metrics.accepts_gzip("br;q=1.0, gzip;q=0.5")
    assert metrics.accepts_gzip("*")
    assert not metrics.accepts_gzip("gzip;q=0")
    assert not metrics.accepts_gzip("identity, notgzip")
    assert not metrics.accepts_gzip("")
    assert not metrics.accepts_gzip("gzip;q=zero")


def test_health_answers_head_too(tmp_path: Path) -> None:
    async def head(app: object, path: str) -> int:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.head(path)).status_code

    with Store.open(f"sqlite:///{tmp_path / 'm.db'}") as store:
        app = create_app(_NoIntake(), Settings(), store=store)
        assert _run(head(app, "/healthz")) == 200
        assert _run(head(app, "/readyz")) == 200


@pytest.mark.server  # it starts a process
def test_counters_of_other_processes_are_summed(tmp_path: Path) -> None:
    """The multiprocess folder: what a child process counted shows in this one's scrape."""
    import multiprocessing

    folder = tmp_path / "counters"
    folder.mkdir()
    counters.enable(str(folder))
    try:
        counters.input_answered("https", "accepted", None)
        context = multiprocessing.get_context("spawn")
        child = context.Process(target=_count_in_child, args=(3,))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        app = create_app(_NoIntake(), Settings(metrics_token=TOKEN))
        text = _get(app, "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    finally:
        counters.disable()
    (inputs,) = [s for s in _families(text)["tlsscope_inputs"].samples
                 if s.name == "tlsscope_inputs_total"]
    assert inputs.labels == {"channel": "https", "outcome": "accepted"} and inputs.value == 4
    assert "tlsscope_metrics_reports_up" not in text  # no store: no report gauges


def _count_in_child(times: int) -> None:
    for _ in range(times):
        counters.input_answered("https", "accepted", None)


def test_gzip_is_one_stream_and_says_what_the_plain_text_says(tmp_path: Path) -> None:
    """The report gauges are compressed once per read; each scrape goes on from a copy of
    the compressor: every answer is one gzip stream that any client decodes whole."""
    import gzip
    import zlib

    with Store.open(f"sqlite:///{tmp_path / 'm.db'}") as store:
        scrape = metrics.Scrape(store, Settings(), queue_depth=lambda: 3)
        answers = [_run(scrape(True)) for _ in range(3)]
        plain = _run(scrape(False)).decode()
    for answer in answers:
        one = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = one.decompress(answer).decode()
        assert one.eof and not one.unused_data  # one stream, nothing after it
        assert text == gzip.decompress(answer).decode()
        assert set(_families(text)) == set(_families(plain))
        assert "tlsscope_sessions" in _families(text) and "tlsscope_build_info" in text


def test_a_killed_serves_counter_folder_goes_at_the_next_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import tempfile

    from tlsscope import serve

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    never = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process has it
    dead = tmp_path / f"{serve.METRICS_PREFIX}{never}-x1"
    alive = tmp_path / f"{serve.METRICS_PREFIX}{os.getppid()}-x2"  # a process that runs
    other = tmp_path / "tlsscope-metrics-notes"  # not one of ours
    for folder in (dead, alive, other):
        folder.mkdir()
        (folder / "counter_1.db").write_bytes(b"")
    made = Path(serve._metrics_folder())
    assert not dead.exists() and alive.exists() and other.exists()
    assert made.parent == tmp_path and made.name.startswith(
        f"{serve.METRICS_PREFIX}{os.getpid()}-")
