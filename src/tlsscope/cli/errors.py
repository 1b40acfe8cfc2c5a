"""Named library errors become one-line messages at the edge, never tracebacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer

from tlsscope.errors import ConfigError

T = TypeVar("T")


def fail_on_config(load: Callable[[], T]) -> T:
    try:
        return load()
    except ConfigError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
