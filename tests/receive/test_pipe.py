"""The fast pipe: `tlsscope ingest -` hands its mail to the serve of the same store."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import reads
from tlsscope.errors import ConfigError, StoreUnavailable
from tlsscope.intake import Intake
from tlsscope.receipts import Saved
from tlsscope.receive import pipe
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings
from tlsscope.store import Store

pytestmark = pytest.mark.server

MAIL = Path(__file__).parents[1] / "fixtures" / "real" / "google-tlsrpt-digest-success-1.eml"
SETTINGS = Settings(dkim_verify="never")
# Run the CLI and say, on the last line of stderr, whether it loaded the store's libraries.
PROBE = ("import sys\nfrom tlsscope.cli.main import run\nsys.argv = ['tlsscope', *sys.argv[1:]]\n"
         "try:\n    run()\nfinally:\n"
         "    print('LOADED-SQLALCHEMY' if 'sqlalchemy' in sys.modules else 'NO-SQLALCHEMY',"
         " file=sys.stderr)\n")


class Listening:
    """`pipe.start` on an event loop in a thread, storing through an in-process intake."""

    def __init__(self, path: str, store: Store, fail: bool = False,
                 url: str = "") -> None:
        self.intake = Intake(store, SETTINGS)
        self.delivered: list[RawInput] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def deliver(raw: RawInput) -> Saved:
            self.delivered.append(raw)
            if fail:
                raise StoreUnavailable("the writer process stopped (exit -9)")
            return await asyncio.wrap_future(self.intake.submit(raw))

        self.url = url or store.engine.url.render_as_string(hide_password=False)
        self.pipe = pipe.PipeServer(path, deliver, SETTINGS.max_input_bytes, self.url)
        try:
            self.server = asyncio.run_coroutine_threadsafe(self.pipe.start(),
                                                           self.loop).result(10)
        except Exception:
            self._stop_loop()
            raise

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.intake.close()

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.pipe.served(5)  # a probe's connection, say, ends its socket first
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self._stop_loop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    yield opened
    opened.close()


def _ingest(db: str, data: bytes, *extra: str,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TLSSCOPE_")}
    return subprocess.run([sys.executable, "-c", PROBE, "ingest", "--db", db, *extra, "-"],
                          input=data.decode("latin-1"), capture_output=True, text=True,
                          timeout=60,
                          env={**clean, "TLSSCOPE_DKIM_VERIFY": "never", **(env or {})})


def test_socket_path_sits_next_to_a_sqlite_file() -> None:
    assert pipe.socket_path("auto", "sqlite:////var/lib/t/t.db") == "/var/lib/t/t.db.pipe"
    assert pipe.socket_path("auto", "sqlite:///:memory:") is None
    assert pipe.socket_path("auto", "postgresql+psycopg://u@h/db") is None
    assert pipe.socket_path("/run/t.sock", "postgresql+psycopg://u@h/db") == "/run/t.sock"
    assert pipe.socket_path("", "sqlite:////var/lib/t/t.db") is None


def test_ingest_hands_the_mail_to_serve_without_loading_the_store(tmp_path: Path,
                                                                  store: Store) -> None:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    listening = Listening(f"{tmp_path / 'p.db'}.pipe", store)
    try:
        done = _ingest(db, MAIL.read_bytes(), "--json")
        again = _ingest(db, MAIL.read_bytes())
    finally:
        listening.close()
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("NO-SQLALCHEMY"), done.stderr
    receipt = json.loads(done.stdout)
    assert (receipt["inputs"], receipt["accepted"], receipt["reports_stored"]) == (1, 1, 1)
    assert [raw.channel for raw in listening.delivered] == ["stdin", "stdin"]
    assert "1 duplicate" in again.stdout and again.returncode == 0
    assert len(reads.reports(store)) == 1


def test_nobody_listening_stores_directly(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'alone.db'}"
    done = _ingest(db, MAIL.read_bytes(), "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("LOADED-SQLALCHEMY")
    assert json.loads(done.stdout)["reports_stored"] == 1
    with Store.open(db) as stored:
        assert len(reads.reports(stored)) == 1


def test_a_store_that_cannot_take_it_makes_the_mta_retry(tmp_path: Path, store: Store) -> None:
    listening = Listening(f"{tmp_path / 'p.db'}.pipe", store, fail=True)
    try:
        done = _ingest(f"sqlite:///{tmp_path / 'p.db'}", MAIL.read_bytes())
    finally:
        listening.close()
    assert done.returncode == 75, done.stderr
    assert "cannot store the mail now: the writer process stopped" in done.stderr
    assert reads.reports(store) == []


def test_an_input_over_the_cap_is_recorded_as_too_large(tmp_path: Path, store: Store) -> None:
    path = str(tmp_path / "big.pipe")
    listening = Listening(path, store)
    try:
        big = b"x" * (SETTINGS.max_input_bytes + 10)
        receipt = pipe.hand_over(path, big, listening.url, 60)
    finally:
        listening.close()
    assert receipt is not None and (receipt.inputs, receipt.accepted) == (1, 0)
    (raw,) = listening.delivered  # as `ingest -` itself records it: kept unread, with why
    assert raw.data is None and "more than the cap" in (raw.problem or "")


def test_a_server_that_never_answers_is_named(tmp_path: Path) -> None:
    path = str(tmp_path / "mute.pipe")
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(path)
    mute.listen(1)
    try:
        with pytest.raises(pipe.Unanswered, match="gave no receipt"):
            pipe.hand_over(path, b"hello", "sqlite:///x.db", answer_seconds=0.3)
    finally:
        mute.close()


def test_a_stale_socket_is_taken_over_and_a_live_one_is_not(tmp_path: Path,
                                                            store: Store) -> None:
    path = str(tmp_path / "stale.pipe")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)  # bound, never listening, then gone: what a killed serve leaves
    dead.close()
    first = Listening(path, store)
    try:
        assert pipe.hand_over(path, MAIL.read_bytes(), first.url, 60) is not None
        with pytest.raises(ConfigError, match="another tlsscope serve"):
            Listening(path, store)
    finally:
        first.close()
    (tmp_path / "file.pipe").write_text("not a socket")
    with pytest.raises(ConfigError, match="not a socket"):
        Listening(str(tmp_path / "file.pipe"), store)


def test_nothing_at_the_path_means_no_serve(tmp_path: Path) -> None:
    assert pipe.hand_over(str(tmp_path / "none.pipe"), b"x", "sqlite:///x.db", 1) is None


def test_the_store_identity_is_the_database_not_its_spelling(tmp_path: Path) -> None:
    ident = pipe.store_identity
    assert ident(f"sqlite:///{tmp_path}/a.db") == ident(f"sqlite:///{tmp_path}/x/../a.db")
    assert ident(f"sqlite:///{tmp_path}/a.db") != ident(f"sqlite:///{tmp_path}/b.db")
    assert ident("postgresql+psycopg://u:secret@h:5432/db") == ident(
        "postgresql+psycopg://u:other@h:5432/db")  # the password is not part of it
    assert ident("postgresql+psycopg://h:5432/db") != ident("postgresql+psycopg://h:5433/db")


def test_a_mail_for_another_store_is_not_taken(tmp_path: Path, store: Store) -> None:
    path = str(tmp_path / "shared.pipe")
    listening = Listening(path, store)
    try:
        other = f"sqlite:///{tmp_path / 'other.db'}"
        assert pipe.hand_over(path, MAIL.read_bytes(), other, 10) is None
        done = _ingest(other, MAIL.read_bytes(), "--json", env={"TLSSCOPE_PIPE_SOCKET": path})
    finally:
        listening.close()
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("LOADED-SQLALCHEMY")  # stored by the pipe itself
    assert listening.delivered == [] and reads.reports(store) == []
    with Store.open(other) as stored:
        assert len(reads.reports(stored)) == 1


def test_connections_past_the_cap_are_closed_at_once(tmp_path: Path, store: Store) -> None:
    path = str(tmp_path / "busy.pipe")
    listening = Listening(path, store)
    idle = []
    try:
        for _ in range(pipe.MAX_CONNECTIONS):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(path)
            idle.append(client)
        time.sleep(0.3)
        started = time.monotonic()
        with pytest.raises(pipe.Unanswered):
            pipe.hand_over(path, MAIL.read_bytes(), listening.url, 20)
        assert time.monotonic() - started < 5  # turned away, not kept waiting
        for client in idle:
            client.close()
        time.sleep(0.3)
        assert pipe.hand_over(path, MAIL.read_bytes(), listening.url, 20) is not None
    finally:
        for client in idle:
            client.close()
        listening.close()


def test_serve_takes_pipe_mail_and_a_killed_serve_leaves_nothing_in_the_way(
        tmp_path: Path) -> None:
    from tests.support.served import Served

    served = Served(tmp_path)
    try:
        done = _ingest(served.db, MAIL.read_bytes(), "--json")
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip().endswith("NO-SQLALCHEMY"), done.stderr
        assert json.loads(done.stdout)["reports_stored"] == 1
        assert any(line["message"] == "pipe socket" for line in served.lines())
    finally:
        served.stop()  # SIGKILL: the socket file stays behind
    assert Path(f"{tmp_path / 'serve.db'}.pipe").exists()
    alone = _ingest(served.db, MAIL.read_bytes(), "--json")  # nobody listens: stored here
    assert alone.returncode == 0, alone.stderr
    assert alone.stderr.strip().endswith("LOADED-SQLALCHEMY")
    assert json.loads(alone.stdout)["duplicate"] == 1
    again = Served(tmp_path)  # takes the stale socket over
    try:
        assert _ingest(again.db, MAIL.read_bytes()).stderr.strip().endswith("NO-SQLALCHEMY")
        again.to_group(signal.SIGTERM)
        again.exits_within(10)
    finally:
        again.stop()
    assert not Path(f"{tmp_path / 'serve.db'}.pipe").exists()  # a clean stop removes it


def test_a_database_path_too_long_for_a_socket_only_loses_the_pipe(tmp_path: Path) -> None:
    from tests.support.served import Served

    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    served = Served(deep)  # serve.db.pipe there is past AF_UNIX's 108 bytes
    try:
        (warned,) = [line for line in served.lines() if line["message"] == "no pipe socket"]
        assert "too long" in warned["why"]
        done = _ingest(served.db, MAIL.read_bytes())
        assert done.returncode == 0 and done.stderr.strip().endswith("LOADED-SQLALCHEMY")
    finally:
        served.stop()
