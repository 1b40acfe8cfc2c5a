"""What a user who runs `pip install tlsscope` gets: the wheel, installed without extras into
a fresh venv, runs every command, ingests and summarises the real samples, checks a domain
(cryptography, httpx), and serves pages whose scripts and styles load.

`make test` builds the wheel from the sdist (`make dist`) and names it in
TLSSCOPE_TEST_WHEEL; without it the test builds one itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer

from tests.support.fakenet import fake_internet, options
from tests.support.webserver import free_port, wait_healthy
from tlsscope.cli.main import app

pytestmark = [pytest.mark.server, pytest.mark.slow]
ROOT = Path(__file__).parents[2]
SAMPLES = ROOT / "tests" / "fixtures" / "real"


class Installed:
    def __init__(self, venv: Path) -> None:
        self.venv = venv
        self.bin = venv / "bin"

    def run(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(  # cwd far from the clone: nothing is imported from src/
            [str(self.bin / "tlsscope"), *args], input=stdin.decode() if stdin else None,
            capture_output=True, text=True, timeout=timeout, cwd=self.venv,
            env={**_clean_env(), **(env or {})})
        assert "Traceback" not in done.stderr, done.stderr
        return done


def _clean_env() -> dict[str, str]:
    """No TLSSCOPE_* setting, no PYTHONPATH, no virtualenv: a stranger's machine."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("TLSSCOPE_", "PYTHON", "VIRTUAL_ENV"))}


def _build(into: Path) -> Path:
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(into), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    return next(into.glob("*.whl"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    named = os.environ.get("TLSSCOPE_TEST_WHEEL", "")
    wheel = Path(named) if named else _build(base / "dist")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], check=True,
                   timeout=900, env=_clean_env())
    yield Installed(venv)


def test_the_wheel_holds_its_assets_and_no_dev_dependency(installed: Installed) -> None:
    probe = ("import importlib.util as u, json, tlsscope, pathlib; "
             "p = pathlib.Path(tlsscope.__file__).parent; "
             "print(json.dumps({'where': str(p), "
             "'vendor': sorted(x.name for x in (p / 'web/static/vendor').iterdir()), "
             "'missing': [m for m in ('psycopg', 'pytest', 'trustme', 'playwright') "
             "if u.find_spec(m) is None]}))")
    done = subprocess.run([str(installed.bin / "python"), "-c", probe], capture_output=True,
                          text=True, check=True, cwd=installed.venv, env=_clean_env())
    found = json.loads(done.stdout)
    assert found["where"].startswith(str(installed.venv)), found["where"]
    assert {"htmx.min.js", "chart.umd.min.js", "swagger-ui-bundle.js",
            "swagger-ui.css"} <= set(found["vendor"])
    assert found["missing"] == ["psycopg", "pytest", "trustme", "playwright"]


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and sub-command (Typer's click groups have `list_commands`)."""
    for name in group.list_commands(None):
        command = group.get_command(None, name)
        assert command is not None
        yield (*prefix, name)
        if hasattr(command, "list_commands"):
            yield from _commands(command, (*prefix, name))


def test_every_command_answers_help(installed: Installed) -> None:
    names = list(_commands(typer.main.get_command(app)))
    assert len(names) >= 15, names
    for name in [(), *names]:
        done = installed.run(*name, "--help")
        assert done.returncode == 0, (name, done.stderr)
        assert "Usage:" in done.stdout, (name, done.stdout)
        assert "\\x09" not in done.stdout


def test_postgres_without_its_extra_names_the_extra(installed: Installed) -> None:
    done = installed.run("reports", "--db", "postgresql+psycopg://u:secret@127.0.0.1:1/x")
    assert done.returncode == 2
    assert "pip install 'tlsscope[postgres]'" in done.stderr, done.stderr
    assert "secret" not in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_ingest_summary_and_check_from_the_wheel(installed: Installed, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    done = installed.run("ingest", "--db", db, str(SAMPLES))
    assert done.returncode in (0, 1), done.stderr  # 1: some sample is rejected on purpose
    listed = installed.run("reports", "--db", db, "--json")
    assert listed.returncode == 0, listed.stderr
    reports = json.loads(listed.stdout)
    assert len(reports) >= 15
    newest = max(reports, key=lambda r: r["day"])
    summary = installed.run("summary", "--db", db, newest["domains"][0], "--until",
                            newest["day"])
    assert summary.returncode == 0, summary.stderr
    assert f"sessions to {newest['domains'][0]}" in " ".join(summary.stdout.split())
    piped = installed.run("ingest", "--db", db, "-",
                          stdin=(SAMPLES / "google-tlsrpt-digest-success-1.eml").read_bytes())
    assert piped.returncode == 0, piped.stderr
    with fake_internet() as setup:
        checked = installed.run("check", "good.example", *options(setup))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "mx1.good.example" in checked.stdout


def test_serve_from_the_wheel_serves_pages_with_their_scripts(installed: Installed,
                                                              tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**_clean_env(), "TLSSCOPE_ADMIN_EMAIL": "admin@example.net",
           "TLSSCOPE_ADMIN_PASSWORD": "wheel-test-password", "TLSSCOPE_CHECK_EVERY_HOURS": "0"}
    process = subprocess.Popen(
        [str(installed.bin / "tlsscope"), "serve", "--db", f"sqlite:///{tmp_path / 's.db'}",
         "--listen", f"127.0.0.1:{port}"], cwd=installed.venv, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_healthy(url, process, seconds=60)
        report = (SAMPLES / "rfc8460-appendix-example.json").read_bytes()
        posted = httpx.post(f"{url}/v1/tlsrpt", content=report,
                            headers={"Content-Type": "application/tlsrpt+json"})
        assert posted.status_code in (200, 201, 202), posted.text
        with httpx.Client(base_url=url, follow_redirects=False) as client:
            login = client.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
            assert csrf is not None
            done = client.post("/login", data={"email": "admin@example.net", "csrf": csrf[1],
                                               "password": "wheel-test-password", "next": "/"})
            assert done.status_code == 303, done.text
            loaded = 0
            for page in ("/", "/docs"):
                html = client.get(page)
                assert html.status_code == 200, page
                assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", html.text)
                assert any(a.startswith("/static/vendor/") for a in assets), (page, assets)
                for asset in assets:
                    answer = client.get(asset)
                    assert answer.status_code == 200 and len(answer.content) > 100, asset
                    loaded += 1
            assert loaded >= 5
            assert client.get("/openapi.json").json()["paths"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()[-2000:]


def test_a_build_without_the_vendored_libraries_fails(tmp_path: Path) -> None:
    import shutil

    tree = tmp_path / "clone"
    tree.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(ROOT / "src", tree / "src",
                    ignore=shutil.ignore_patterns("vendor", "__pycache__", "*.egg-info"))
    done = subprocess.run([sys.executable, "-m", "build", "--outdir",
                           str(tmp_path / "dist"), str(tree)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode != 0
    assert "run `make assets`" in done.stdout + done.stderr
    assert not list((tmp_path / "dist").glob("*"))  # neither a wheel nor an sdist
