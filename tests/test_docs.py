"""The documentation matches the code: every setting, command, option and finding code."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from tlsscope.cli.main import app
from tlsscope.notes import CODES
from tlsscope.settings import Settings

DOCS = Path(__file__).parents[1] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for name in Settings.__struct_fields__:
        assert f"`{name}`" in text, name


def test_every_finding_code_is_documented() -> None:
    text = (DOCS / "reader.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, re.MULTILINE))
    assert documented == set(CODES)


def test_every_command_and_option_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    group = typer.main.get_group(app)
    for name, command in group.commands.items():
        assert f"`tlsscope {name}" in text, name
        for param in command.params:
            for option in getattr(param, "opts", []):
                if option.startswith("--"):
                    assert option in text, f"{name} {option}"


def test_every_finding_kind_is_documented() -> None:
    """The kinds table of docs/cli.md is the vocabulary's (an alert rule's --kind takes them)."""
    from tlsscope.vocab import FINDING_KINDS

    text = (DOCS / "cli.md").read_text()
    table = text[text.index("| kind | result types | one finding per |"):]
    table = table[:table.index("\n\n")]
    documented = {kind for line in table.splitlines()[2:]
                  for kind in re.findall(r"`([a-z-]+)`", line.split("|")[1])}
    assert documented == set(FINDING_KINDS)
