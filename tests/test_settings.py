from __future__ import annotations

from pathlib import Path

import pytest

from tlsscope.errors import ConfigError
from tlsscope.settings import load_settings


def test_defaults_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text("max_input_bytes = 1000\nmax_archive_members = 5\n")
    settings = load_settings(config, {"TLSSCOPE_MAX_ARCHIVE_MEMBERS": "7"})
    assert (settings.max_input_bytes, settings.max_archive_members) == (1000, 7)
    assert load_settings(None, {}).max_archive_members == 1000


@pytest.mark.parametrize(("text", "env", "key"), [
    ("max_input_bytes = -1\n", {}, "max_input_bytes"),
    ("nonsense = 1\n", {}, "nonsense"),
    ("", {"TLSSCOPE_MAX_INPUT_BYTES": "lots"}, "max_input_bytes"),
    ("max_input_bytes = [\n", {}, "config"),
])
def test_errors_name_the_key(tmp_path: Path, text: str, env: dict[str, str], key: str) -> None:
    config = tmp_path / "t.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env)
    assert caught.value.key == key
