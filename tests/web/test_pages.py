"""The pages' shared helpers (web/pages/__init__.py), no server: redirect targets."""

from __future__ import annotations

import pytest

from tlsscope.web.pages import safe_next


@pytest.mark.parametrize(("value", "expected"), [
    ("/reports?page=2", "/reports?page=2"), ("//evil.example/", "/"),
    ("https://evil.example/", "/"), ("/\\evil.example", "/"), ("", "/"),
])
def test_only_local_redirects(value: str, expected: str) -> None:
    assert safe_next(value) == expected
