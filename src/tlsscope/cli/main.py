"""`tlsscope` command line. Each command is a thin shell over the library."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from tlsscope import __version__

app = typer.Typer(
    name="tlsscope",
    help="Receive, read, store and explain SMTP TLS Reporting (RFC 8460) reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="TOML settings file (else TLSSCOPE_CONFIG, else the default "
                 "~/.config/tlsscope/tlsscope.toml).", dir_okay=False),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tlsscope {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """tlsscope: read TLS-RPT reports and explain them."""


@app.command()
def parse(
    paths: Annotated[list[str], typer.Argument(
        help="Files, folders (read recursively, in sorted order) or - for stdin. Content decides "
        "what each input is: JSON, gzip, zip, a mail (.eml) or an mbox.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array, one entry per "
                                          "input (see docs/cli.md for the contract).")] = False,
    config: ConfigOption = None,
) -> None:
    """Read TLS-RPT reports and show what they say and what is wrong with them.

    Exit status: 0 when no input was rejected, 1 when some input was, 2 for a usage error.
    """
    from tlsscope.cli.errors import fail_on_config
    from tlsscope.parse.reader import read_input
    from tlsscope.parse.results import DuplicateTracker, InputResult, Outcome
    from tlsscope.receive.files import iter_inputs
    from tlsscope.settings import load_settings

    settings = fail_on_config(lambda: load_settings(config))
    missing = [p for p in paths if p != "-" and not Path(p).exists()]
    if missing:
        typer.echo(f"Error: no such file or folder: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    tracker = DuplicateTracker()
    rejected = 0

    def results() -> Iterator[InputResult]:
        nonlocal rejected
        for raw in iter_inputs(paths, settings.max_input_bytes):
            if raw.data is None:
                from tlsscope.findings import error

                problem = error("unreadable_input", raw.problem or "unreadable")
                result = InputResult(source=raw.source, errors=[problem])
            else:
                result = tracker.mark(read_input(raw.data, raw.source, settings=settings,
                                                 filename=raw.filename))
            rejected += result.outcome is Outcome.REJECTED
            yield result

    if as_json:
        from tlsscope.cli.render import write_json

        write_json(results(), sys.stdout.buffer)
        sys.stdout.flush()
    else:
        from rich.console import Console

        from tlsscope.cli.render import write_table

        write_table(results(), Console())
    raise typer.Exit(1 if rejected else 0)


def run() -> None:
    app()
