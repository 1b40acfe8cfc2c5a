"""The texts of the findings that are not one result type (catalog `[finding.<kind>]`)."""

from __future__ import annotations

from collections.abc import Sequence

from tlsscope.analyze import catalog


def texts(kind: str, lang: str, **values: object) -> tuple[str, str, list[str]]:
    """(title, explanation, fix) of a finding kind, with its values filled in."""
    words = catalog.Words(lang).texts["finding"][kind]
    return (catalog.fill(words["title"], **values),
            catalog.fill(words["explanation"], **values),
            [catalog.fill(f, **values) for f in words["fix"]])


def names(items: Sequence[str], lang: str) -> str:
    """"A, B and C" in the language."""
    return catalog.Words(lang).names(items)
