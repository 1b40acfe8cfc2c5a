"""The dashboard's words, in English and Portuguese (web/locales/<lang>.toml).

The language is the user's choice when they made one, else the browser's (Accept-Language),
else English. Every UI string goes through `Words`; a test checks both files have the same
keys.
"""

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
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(f"{name}.", value)
            else:
                flat[name] = str(value)

    walk("", data)
    return flat


def choose(user_lang: str, accept_language: str) -> str:
    """The user's language, else the best of the browser's that we have, else English."""
    if user_lang in LANGS:
        return user_lang
    weighted = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, index, tag.strip().lower().split("-")[0]))
    for _, _, primary in sorted(weighted):
        if primary in LANGS:
            return primary
    return DEFAULT


class Words:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT
        self._table = table(self.lang)

    def __call__(self, key: str, /, **values: object) -> str:
        text = self._table.get(key) or table(DEFAULT).get(key) or key
        return text.format(**values) if values else text

    def number(self, value: int | float) -> str:
        if isinstance(value, float):
            text = f"{value:,.1f}"
        else:
            text = f"{value:,}"
        if self.lang == "pt":
            return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text
