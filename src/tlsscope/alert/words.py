"""The words of alerts and digests, in English and Portuguese (alert/locales/<lang>.toml).
A test checks both files have the same keys and the same {placeholders}."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

LANGS = ("en", "pt")
DEFAULT = "en"
_DIR = Path(__file__).parent / "locales"


@cache
def table(lang: str) -> dict[str, str]:
    data = tomllib.loads((_DIR / f"{lang}.toml").read_text(encoding="utf-8"))
    flat: dict[str, str] = {}

    def walk(prefix: str, node: dict[str, object]) -> None:
        for name, value in node.items():
            if isinstance(value, dict):
                walk(f"{prefix}{name}.", value)
            else:
                flat[f"{prefix}{name}"] = str(value)

    walk("", data)
    return flat


class Words:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT
        self._table = table(self.lang)

    def __call__(self, name: str, /, **values: object) -> str:
        text = self._table.get(name) or table(DEFAULT).get(name) or name
        return text.format(**values) if values else text

    def number(self, value: int | float) -> str:
        text = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
        if self.lang == "pt":
            return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text
