"""deploy/: the systemd unit passes `systemd-analyze verify`, and docs/deploy.md's settings
are settings tlsscope takes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tlsscope.settings import JOBS, Settings, load_settings

ROOT = Path(__file__).parents[1]
UNIT = ROOT / "deploy" / "systemd" / "tlsscope.service"
DOC = (ROOT / "docs" / "deploy.md").read_text()


@pytest.mark.server
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "tlsscope"  # the installed tlsscope, for ExecStart
    unit = tmp_path / "tlsscope.service"
    text = UNIT.read_text()
    assert "ExecStart=/opt/tlsscope/bin/tlsscope serve\n" in text
    unit.write_text(text.replace("/opt/tlsscope/bin/tlsscope", str(command)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    # the check can fail: a misspelt key is refused
    unit.write_text(unit.read_text().replace("ExecStart=", "ExecStrat="))
    bad = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode != 0 and "ExecStrat" in bad.stderr


def test_the_fleet_settings_of_the_guide_are_valid(tmp_path: Path) -> None:
    (block,) = re.findall(r"```toml\n(.*?)```", DOC, re.S)
    config = tmp_path / "tlsscope.toml"
    config.write_text(block)
    loaded = load_settings(config, environ={})
    assert loaded.migrate_on_start is False and loaded.database_url.startswith("postgresql")
    assert set(tomllib.loads(block)) <= set(Settings.__struct_fields__)
    # every job the guide's table names is one of the jobs, and every job is in it
    named = set(re.findall(r"^\| `(\w+)`", DOC, re.M))
    assert named == set(JOBS)


def test_the_default_pools_fit_ten_nodes_in_100_connections() -> None:
    defaults = Settings()
    per_node = defaults.db_pool_web + defaults.db_pool_writer + defaults.db_pool_analyst
    assert per_node * 10 <= 100 - 20  # room for commands, psql and backups
    assert f"{per_node} with\nthe defaults" in DOC or f"{per_node} with the defaults" in DOC
