"""The words of alerts and digests, in English and Portuguese (alert/locales/<lang>.toml,
read by tlsscope.locale_words). A test checks both files have the same keys and the same
{placeholders}."""

from __future__ import annotations

from pathlib import Path

from tlsscope import locale_words

LANGS = ("en", "pt")
DEFAULT = "en"
CATALOG = locale_words.Catalog(Path(__file__).parent / "locales", LANGS, DEFAULT)
table = CATALOG.table


class Words(locale_words.Words):
    def __init__(self, lang: str) -> None:
        super().__init__(CATALOG, lang)
