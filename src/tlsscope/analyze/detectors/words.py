"""The texts of the findings that are not one result type (catalog `[finding.<kind>]`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tlsscope.analyze import catalog


def texts(kind: str, lang: str, **values: object) -> tuple[str, str, list[str]]:
    """(title, explanation, fix) of a finding kind, with its values filled in."""
    return variant_texts(kind, lang, "", **values)


def variant_texts(kind: str, lang: str, variant: str, /,
                  **values: object) -> tuple[str, str, list[str]]:
    """`texts`, with `variant`: a suffix ("_one", "_many") for the keys that have one, for
    example a title in the singular; keys without it are taken as they are."""
    words = catalog.Words(lang).texts["finding"][kind]

    def pick(key: str) -> Any:
        return words.get(key + variant, words[key])

    return (catalog.fill(pick("title"), **values), catalog.fill(pick("explanation"), **values),
            [catalog.fill(f, **values) for f in pick("fix")])


NAMED = 5  # names said in a sentence; beyond, "and 1,187 others" (a big domain has thousands)


def names(items: Sequence[str], lang: str) -> str:
    """"A, B and C" in the language; "A, B, C, D, E and 1,187 others" beyond NAMED."""
    return catalog.Words(lang).names(items, NAMED)
