"""The texts of the findings that are not one result type (catalog `[finding.<kind>]`)."""

from __future__ import annotations

from collections.abc import Sequence

from tlsscope.analyze import catalog


def texts(kind: str, lang: str, **values: object) -> tuple[str, str, list[str]]:
    """(title, explanation, fix) of a finding kind, with its values filled in."""
    words = catalog._texts(lang)["finding"][kind]

    def fill(text: str) -> str:
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    return fill(words["title"]), fill(words["explanation"]), [fill(f) for f in words["fix"]]


def names(items: Sequence[str], lang: str) -> str:
    """"A, B and C" in the language."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {catalog._texts(lang)['summary']['and']} {items[-1]}"
