"""Words in several languages, read from TOML files (one per language, nested tables become
dotted keys): the one loader behind the dashboard's words (web/i18n.py, web/locales/) and
the alerts' and digests' (alert/words.py, alert/locales/).

    Catalog(folder, langs, default)   a folder of <lang>.toml; `table(lang)` flattened, cached
    Words(catalog, lang)              `words("key", name=...)`: the text in `lang`, else in the
                                      default language, else the key; `number(n)` formatted
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path


class Catalog:
    def __init__(self, folder: Path, langs: tuple[str, ...], default: str) -> None:
        self.folder, self.langs, self.default = folder, langs, default

    def table(self, lang: str) -> dict[str, str]:
        return _table(self.folder, lang)


@functools.cache
def _table(folder: Path, lang: str) -> dict[str, str]:
    data = tomllib.loads((folder / f"{lang}.toml").read_text(encoding="utf-8"))
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
    def __init__(self, catalog: Catalog, lang: str) -> None:
        self.lang = lang if lang in catalog.langs else catalog.default
        self._table = catalog.table(self.lang)
        self._fallback = catalog.table(catalog.default)

    def __call__(self, key: str, /, **values: object) -> str:
        text = self._table.get(key) or self._fallback.get(key) or key
        return text.format(**values) if values else text

    def number(self, value: int | float) -> str:
        text = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
        if self.lang == "pt":
            return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text
