"""The dashboard's words, in English and Portuguese (web/locales/<lang>.toml).

The language is the user's choice when they made one, else the browser's (Accept-Language),
else English. Every UI string goes through `Words`; a test checks both files have the same
keys. The loader is tlsscope.locale_words, shared with the alerts' words.
"""

from __future__ import annotations

from pathlib import Path

from tlsscope import locale_words

LANGS = ("en", "pt")
DEFAULT = "en"
_DIR = Path(__file__).parent / "locales"
CATALOG = locale_words.Catalog(_DIR, LANGS, DEFAULT)
table = CATALOG.table


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


class Words(locale_words.Words):
    def __init__(self, lang: str) -> None:
        super().__init__(CATALOG, lang)
