"""One typed `Settings`, read from a TOML file and `TLSSCOPE_*` environment variables.

Order of precedence (later wins): defaults, the TOML file, the environment. The file is the one
named by `--config` or `TLSSCOPE_CONFIG`, else `$XDG_CONFIG_HOME/tlsscope/tlsscope.toml` when it
exists. Every setting `name` has the variable `TLSSCOPE_NAME` (upper case). A bad value is a
`ConfigError` that names the key, the value and the rule it breaks.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

import msgspec

from tlsscope.errors import ConfigError

MiB = 1024 * 1024


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    database_url: str = ""
    """SQLAlchemy URL of the store; empty means SQLite in the per-user data folder."""
    # Reader limits (RFC 8460 §5.2 notes that receivers commonly cap reports at 10 MB).
    max_input_bytes: Annotated[int, msgspec.Meta(gt=0)] = 25 * MiB
    """Largest raw input (file, mail, HTTP body) the reader takes."""
    max_decompressed_bytes: Annotated[int, msgspec.Meta(gt=0)] = 50 * MiB
    """Largest inflated size of one gzip stream or zip member (the bomb guard)."""
    max_archive_members: Annotated[int, msgspec.Meta(gt=0)] = 1000
    """Most members read from one zip archive."""


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tlsscope" / "tlsscope.toml"


def load_settings(config: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    path = config or (Path(env["TLSSCOPE_CONFIG"]) if env.get("TLSSCOPE_CONFIG") else None)
    if path is None and default_config_path().is_file():
        path = default_config_path()
    if path is not None:
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise ConfigError("config", str(path), f"cannot read: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("config", str(path), f"not valid TOML: {exc}") from exc
    for name in Settings.__struct_fields__:
        raw = env.get(f"TLSSCOPE_{name.upper()}")
        if raw is not None:
            values[name] = raw
    return _validate(values)


def _validate(values: dict[str, Any]) -> Settings:
    known = set(Settings.__struct_fields__)
    for key in values:
        if key not in known:
            raise ConfigError(key, values[key], "unknown setting")
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        key = str(exc).rsplit("$.", 1)[-1].rstrip("`") if "$." in str(exc) else "?"
        raise ConfigError(key, values.get(key), str(exc).split(" - at ")[0]) from exc
