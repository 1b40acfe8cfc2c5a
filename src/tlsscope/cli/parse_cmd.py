"""`tlsscope parse`: read reports and show them; nothing is stored."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tlsscope.cli.app import ConfigOption, app, fail, settings


@app.command(short_help="Read reports and show what they say (stores nothing).")
def parse(
    paths: Annotated[list[str], typer.Argument(
        help="Files, folders (read recursively, in sorted order) or - for stdin. Content decides "
        "what each input is: JSON, gzip, zip, a mail (.eml) or an mbox.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array, one entry per "
                                          "input (see docs/cli.md for the contract).")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=0, help="Worker processes for large "
                                      "batches; 0 means one per core.")] = 0,
    config: ConfigOption = None,
) -> None:
    """Read TLS-RPT reports and show what they say and what is wrong with them.

    Exit status: 0 when no input was rejected, 1 when some input was, 2 for a usage error.
    """
    from tlsscope.batch import default_jobs, keep, read_all
    from tlsscope.parse.results import DuplicateTracker, Outcome

    loaded = settings(config)
    missing = [p for p in paths if p != "-" and not Path(p).exists()]
    if missing:
        raise fail(f"no such file or folder: {', '.join(missing)}")
    tracker = DuplicateTracker()
    workers = jobs or default_jobs()
    if as_json:
        from tlsscope.cli.render import write_json
        from tlsscope.parse.contract import encode_entry

        entries = read_all(paths, loaded, workers, encode_entry)
        rejected = write_json(entries, tracker, sys.stdout.buffer)
        sys.stdout.flush()
    else:
        from rich.console import Console

        from tlsscope.cli.render import write_table

        counts = write_table(read_all(paths, loaded, workers, keep), tracker, Console())
        rejected = counts[Outcome.REJECTED]
    raise typer.Exit(1 if rejected else 0)
