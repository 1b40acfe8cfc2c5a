"""Commands over the store: ingest, reports, show, quarantine, reingest, stats."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tlsscope.cli.app import (
    EX_TEMPFAIL,
    ConfigOption,
    DbOption,
    JsonOption,
    app,
    day_window,
    fail,
    open_store,
    print_json,
    refusals,
    settings,
)

if TYPE_CHECKING:
    from tlsscope.receipts import IngestTotals
    from tlsscope.settings import Settings
    from tlsscope.store import Store

SinceOption = Annotated[dt.datetime | None, typer.Option(
    formats=["%Y-%m-%d"], show_default=False,
    help="Only reports of this day (YYYY-MM-DD, UTC) or later.")]
UntilOption = Annotated[dt.datetime | None, typer.Option(
    formats=["%Y-%m-%d"], show_default=False,
    help="Only reports of this day (YYYY-MM-DD, UTC) or earlier.")]
WindowEndOption = Annotated[dt.datetime | None, typer.Option(
    "--until", formats=["%Y-%m-%d"], show_default=False,
    help="Last day of the window (YYYY-MM-DD, UTC), included; default: today.")]


@app.command(short_help="Store reports from files, folders, mail or stdin.")
def ingest(
    paths: Annotated[list[str], typer.Argument(
        help="Files, folders (recursively: .eml, mbox, Maildir, JSON, gzip, zip) or - for "
        "stdin.", show_default=False)],
    as_json: JsonOption = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=-1, help="Processes that read "
                                      "inputs while this one writes; -1: one if there are two "
                                      "or more cores.")] = -1,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Store reports: every input is kept, every report once; ends with a summary.

    Exit status: 0 when no input was rejected, 1 when some input was, 2 for a usage error,
    75 (EX_TEMPFAIL) when the database is unavailable. Reading one mail from stdin (`-`, an MTA
    pipe) exits 0 once it is stored, whatever the verdict: a rejected mail is kept in quarantine.
    When `tlsscope serve` runs for the same store, `-` hands the mail to it (setting
    pipe_socket) instead of opening the store.
    """
    from rich.console import Console

    loaded = settings(config)
    stdin = None
    if paths == ["-"]:
        handed, head = _hand_to_serve(loaded, db)
        if handed is not None:
            _ingested(handed, as_json, Console())
            raise typer.Exit(0)
        from tlsscope.receive.files import prefixed

        stdin = prefixed(head, sys.stdin.buffer)
    from sqlalchemy.exc import SQLAlchemyError

    from tlsscope.app.ingest import load
    from tlsscope.receive.files import expand, iter_inputs

    missing = [p for p in paths if p != "-" and not Path(p).exists()]
    if missing:
        raise fail(f"no such file or folder: {', '.join(missing)}")
    files = list(expand(paths))
    with open_store(db, config, unavailable=EX_TEMPFAIL) as store:
        progress = _progress(enabled=not as_json and len(files) > 1)
        with progress:
            task = progress.add_task("ingesting", total=len(files))
            current = {"file": ""}

            def advance(saved: object) -> None:
                source = getattr(saved, "source", "").split("#", 1)[0]
                if source != current["file"]:
                    current["file"] = source
                    progress.advance(task)

            workers = jobs if jobs >= 0 else (1 if (os.cpu_count() or 1) > 1 else 0)
            try:
                raws = iter_inputs(files, loaded.max_input_bytes, stdin)
                totals = load(store, raws, loaded, on_saved=None if as_json else advance,
                                    workers=workers, live=paths == ["-"])
            except SQLAlchemyError as exc:
                raise fail(f"the database failed: {str(exc).splitlines()[0]}; inputs not "
                           "reported as stored above were not stored", EX_TEMPFAIL) from None
    _ingested(totals, as_json, Console())
    raise typer.Exit(1 if totals.rejected and paths != ["-"] else 0)


def _ingested(totals: IngestTotals, as_json: bool, console: Any) -> None:
    if as_json:
        print_json(totals)
        return
    from tlsscope.cli import render_store

    render_store.ingest_summary(totals, console)


def _hand_to_serve(loaded: Settings, db: str | None) -> tuple[IngestTotals | None, bytes]:
    """Standard input, handed to the `serve` of the same store if one listens: its receipt
    (None when none listens, or it took the mail without answering), and the bytes read."""
    from tlsscope.errors import StoreUnavailable
    from tlsscope.receive import pipe
    from tlsscope.settings import default_database_url

    head = sys.stdin.buffer.read(loaded.max_input_bytes + 1)
    url = db or loaded.database_url or default_database_url()
    path = pipe.socket_path(loaded.pipe_socket, url)
    if path is None or len(head) > loaded.max_input_bytes:
        return None, head  # too large: stored (as rejected) by this process, streamed
    try:  # serve answers within writer_answer_seconds: wait a little longer than that
        return pipe.hand_over(path, head, url, loaded.writer_answer_seconds + 15), head
    except StoreUnavailable as exc:
        raise fail(f"tlsscope serve cannot store the mail now: {exc}", EX_TEMPFAIL) from None
    except (pipe.Unanswered, pipe.Unreachable) as exc:  # at worst a duplicate, never twice
        typer.echo(f"warning: {exc}; storing it directly", err=True)
        return None, head


def _progress(enabled: bool) -> Any:
    """A Rich progress bar on stderr, or (one input: an MTA pipe) a no-op without its imports."""
    if not enabled:
        return _NoProgress()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True),
                    transient=True)


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def add_task(self, *_: object, **__: object) -> int:
        return 0

    def advance(self, *_: object) -> None:
        return None


@app.command(short_help="List stored reports, newest day first.")
def reports(
    domain: Annotated[str | None, typer.Option(help="Only reports about this policy domain.",
                                               show_default=False)] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List stored reports, newest day first (--since/--until are YYYY-MM-DD, inclusive)."""
    from rich.console import Console

    from tlsscope.app.reports import listing as reports_of
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli import render_store

    with open_store(db, config) as store:
        found = reports_of(store, OPERATOR, domain=domain, since=since.date() if since else None,
                           until=until.date() if until else None, limit=limit, offset=offset)
    if as_json:
        print_json(found)
    else:
        render_store.report_list(found, Console())


@app.command(short_help="Show one stored report, read in plain language.")
def show(
    report: Annotated[str, typer.Argument(help="A report key, or its first characters.",
                                          show_default=False)],
    lang: Annotated[str, typer.Option("--lang", help="Language of the reading: en or pt.")] = "en",
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Show one stored report: a plain-language reading, policies, failure rows, findings, and
    the input it came from."""
    import msgspec
    from rich.console import Console

    from tlsscope.analyze import catalog
    from tlsscope.analyze.reading import read_report
    from tlsscope.app import reports
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli import render_store

    if lang not in catalog.languages():
        raise fail(f"--lang must be one of {', '.join(catalog.languages())}")

    with open_store(db, config) as store, refusals():
        _, stored = reports.stored(store, OPERATOR, reports.find(store, OPERATOR, report))
    reading = read_report(stored.report, stored.counted, lang)
    if as_json:
        print_json({**msgspec.to_builtins(stored), "reading": reading})
    else:
        render_store.report_detail(stored, Console())
        render_store.reading(reading, Console(), lang)


quarantine_app = typer.Typer(help="Rejected inputs: list them, export them byte for byte.",
                             invoke_without_command=True, no_args_is_help=False)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.callback(invoke_without_command=True)
def quarantine(
    context: typer.Context,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List rejected inputs with their reasons."""
    if context.invoked_subcommand is not None:
        return
    from rich.console import Console

    from tlsscope.app import quarantine as rejected
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli import render_store

    with open_store(db, config) as store:
        held = rejected.held(store, OPERATOR)
    if as_json:
        print_json(held)
    else:
        render_store.quarantine_list(held, Console())


@quarantine_app.command("export", short_help="Write every rejected input, byte for byte.")
def quarantine_export(
    folder: Annotated[Path, typer.Argument(help="Folder to write the inputs into.",
                                           file_okay=False, show_default=False)],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Write every rejected input, byte for byte, as SHA256PREFIX-NAME into FOLDER."""
    from tlsscope.app import quarantine as rejected
    from tlsscope.app.scope import OPERATOR

    folder.mkdir(parents=True, exist_ok=True)
    written = dropped = 0
    with open_store(db, config) as store:
        for held, data in rejected.every_one(store, OPERATOR):
            if data is None:
                dropped += 1
                continue
            (folder / export_name(held.sha256, held.source)).write_bytes(data)
            written += 1
    gone = (f"; {dropped} had lost their bytes to their sender's quarantine budget"
            if dropped else "")
    typer.echo(f"{written} rejected input(s) written to {folder}{gone}")


def export_name(digest: str, source: str) -> str:
    """A safe file name: never a path taken from a report or a sender."""
    base = os.path.basename(source.replace("\\", "/")) or "input"
    safe = "".join(ch if ch.isalnum() or ch in "._-!+@" else "_" for ch in base)[:80]
    return f"{digest[:16]}-{safe.lstrip('.') or 'input'}"


@app.command(short_help="Read every stored input again with this reader.")
def reingest(
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Read every stored input again with this reader; add what it now finds, duplicate nothing."""
    from tlsscope.app import quarantine as rejected
    from tlsscope.app.scope import OPERATOR

    loaded = settings(config)
    with open_store(db, config) as store:
        done = rejected.reingest_all(store, loaded, OPERATOR)
    summary = done._asdict()
    inputs, added, changed, still = done
    if as_json:
        print_json(summary)
    else:
        typer.echo(f"{inputs} input(s) read again: {added} report(s) added, {changed} verdict(s) "
                   f"changed, {still} still rejected")


@app.command(short_help="Per-day totals and breakdowns of the sessions.")
def stats(
    domain: Annotated[str | None, typer.Option(help="One policy domain (else all together).",
                                               show_default=False)] = None,
    days: Annotated[int, typer.Option(min=1, help="Days back from --until.")] = 30,
    until: WindowEndOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Per-day totals, and breakdowns by policy, reporter, result type and receiving MX."""
    from rich.console import Console

    from tlsscope.app import stats as numbers
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli import render_store

    first, last = day_window(until, days)
    with open_store(db, config) as store:
        found = numbers.stats(store, OPERATOR, domain, first, last)
        hint = None if found.reports else empty_window(store, domain, first, last)
    if as_json:
        print_json(found)
        return
    render_store.stats(found, Console())
    if hint is not None:
        say(hint)


def empty_window(store: Store, domain: str | None, first: dt.date, last: dt.date) -> str:
    """An empty window: where the reports are, rather than only that there is none."""
    from tlsscope.app import stats
    from tlsscope.app.scope import OPERATOR

    latest = stats.last_report_day(store, OPERATOR, domain)
    if latest is not None:
        return (f"No report in {first}..{last}; the latest report is of {latest}: try "
                f"--until {latest}.")
    if domain:
        return f"No report about {domain} is stored (tlsscope reports lists the stored ones)."
    return "No report is stored yet (tlsscope ingest, or tlsscope serve, stores them)."


def say(hint: str) -> None:
    from rich.console import Console
    from rich.text import Text

    from tlsscope.cli.sanitize import safe

    Console(stderr=True).print(Text(safe(hint)), soft_wrap=True)
