"""Every command and option explains itself: options have help, listings show whole sentences."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer

from tlsscope.cli.main import app

pytestmark = pytest.mark.server

WIDTH = 64  # what Click gives a command's line in an 80-column listing


def _commands(group: Any, prefix: str = "tlsscope") -> Iterator[tuple[str, Any]]:
    for name in group.list_commands(None):
        command = group.get_command(None, name)
        yield f"{prefix} {name}", command
        if hasattr(command, "list_commands"):
            yield from _commands(command, f"{prefix} {name}")


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_the_tree_is_walked() -> None:
    names = {name for name, _ in COMMANDS}
    assert {"tlsscope ingest", "tlsscope users token", "tlsscope record check"} <= names


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_listing_line_is_a_whole_sentence(name: str, command: Any) -> None:
    line = command.get_short_help_str(limit=WIDTH)
    assert line.endswith(".") and not line.endswith("..."), (name, line)


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_option_and_argument_has_help(name: str, command: Any) -> None:
    for param in command.params:
        assert (getattr(param, "help", None) or "").strip(), (name, param.name)
