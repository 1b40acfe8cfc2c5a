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


@pytest.mark.parametrize(("key", "value", "says"), [
    ("public_url", "javascript:alert(1)", "expected https://"),
    ("public_url", "https://admin:hunter2@tlsrpt.example.net", "no user or password"),
    ("public_url", "https://tlsrpt.example.net/?x=1", "no query"),
    ("public_url", "https://tlsrpt.example.net/a b", "space"),
    ("public_url", "https://tlsrpt.example.net:http/", "port"),
    ("smtp_url", "smtpx://relay.example.net", "expected smtp://"),
    ("smtp_url", "smtp://", "expected smtp://"),
    ("smtp_url", "smtp://relay.example.net:99999", "not a URL"),
    ("mail_from", "a@example.net\r\nBcc: victim@example.org", "line break"),
    ("mail_from", "not an address", "expected one address"),
    ("mail_from", "a@b@localhost", "expected one address"),
])
def test_addresses_for_messages_are_checked_at_load(key: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {f"TLSSCOPE_{key.upper()}": value})
    assert caught.value.key == key and says in caught.value.reason
    assert "hunter2" not in str(caught.value)


def test_good_addresses_for_messages_load() -> None:
    settings = load_settings(None, {"TLSSCOPE_PUBLIC_URL": "https://tlsrpt.example.net/t/",
                                    "TLSSCOPE_SMTP_URL": "smtps://u:p%40ss@relay.example.net",
                                    "TLSSCOPE_MAIL_FROM": "tlsscope <alerts@example.net>"})
    assert settings.mail_from == "tlsscope <alerts@example.net>"
