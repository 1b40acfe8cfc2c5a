"""The alerts' and digests' words: both languages have every key, with the same
{placeholders} (alert/locales/en.toml and pt.toml)."""

from __future__ import annotations

import string

from tlsscope.alert import words


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    english, portuguese = words.table("en"), words.table("pt")
    assert set(english) == set(portuguese)
    for key, text in english.items():
        assert _fields(text) == _fields(portuguese[key]), key
