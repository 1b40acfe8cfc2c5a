"""Make report-sourced text safe to show on a terminal: no control sequences get through
(the rule is tlsscope.visible's, shared with the web pages)."""

from __future__ import annotations

from tlsscope.visible import visible


def safe(text: object) -> str:
    return visible(text)
