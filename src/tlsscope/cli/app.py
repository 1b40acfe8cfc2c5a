"""The Typer application and what its commands share: settings, the store, JSON output."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from tlsscope import __version__
from tlsscope.errors import ConfigError, MissingExtra
from tlsscope.vocab import MAX_ROW_ID

if TYPE_CHECKING:
    from tlsscope.settings import Settings
    from tlsscope.store import Pool, Store

app = typer.Typer(
    name="tlsscope",
    help="Receive, read, store and explain SMTP TLS Reporting (RFC 8460) reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help: Typer's Rich help imports ~90 ms of modules (Markdown, syntax
    # highlighting) before it prints a line, which doubled the cost of every `--help`.
    rich_markup_mode=None,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="TOML settings file (else TLSSCOPE_CONFIG, else the default "
                 "~/.config/tlsscope/tlsscope.toml).", dir_okay=False),
]


def row_id(what: str) -> Any:
    """The argument of a command that takes a row's id (1 to MAX_ROW_ID)."""
    return typer.Argument(help=what, show_default=False, min=1, max=MAX_ROW_ID)


DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL: sqlite:///PATH or postgresql+psycopg://... "
                 "(else TLSSCOPE_DATABASE_URL, else SQLite in the per-user data folder).",
                 show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]

T = TypeVar("T")


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


@contextlib.contextmanager
def refusals(invalid: int = 2) -> Iterator[None]:
    """The application's refusals (tlsscope.errors.RequestError) as one-line errors: what is
    not found (or not allowed) exits 1, a wrong value `invalid` (2: a usage error). A name
    given with bytes that are not UTF-8 (the shell passes them through) cannot be stored or
    compared as text: a usage error too, not a traceback."""
    from tlsscope.errors import Invalid, RequestError

    try:
        yield
    except RequestError as exc:
        raise fail(exc.message, invalid if isinstance(exc, Invalid) else 1) from None
    except UnicodeEncodeError as exc:
        shown = exc.object[max(0, exc.start - 20):exc.end + 20]
        raise fail("a value given is not valid UTF-8 text (bytes that are not UTF-8 near "
                   f"{shown.encode('utf-8', 'backslashreplace').decode('ascii', 'replace')})",
                   invalid) from None


def fail_on_config(load: Callable[[], T]) -> T:
    try:
        return load()
    except ConfigError as exc:
        raise fail(str(exc)) from None


def settings(config: Path | None) -> Settings:
    from tlsscope.settings import load_settings

    return fail_on_config(lambda: load_settings(config))


EX_TEMPFAIL = 75  # sysexits.h: an MTA that piped a mail to us will try again later


def open_store(db: str | None, config: Path | None, unavailable: int = 2,
               pool: Pool | None = None) -> Store:
    """The store named by --db, the settings, or the default, at this tlsscope's schema:
    migrated to it (or, with migrate_on_start = false, waited for); a newer one is refused.

    A database that cannot be reached exits with `unavailable` (EX_TEMPFAIL for ingest, so
    that an MTA piping a mail retries).
    """
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    from tlsscope import alert
    from tlsscope.store import Pool, SchemaMismatch, Store

    loaded = settings(config)
    url = db or loaded.database_url or None
    alert.wire()  # what this command changes tells the alert rules (tlsscope.alert)
    try:
        return Store.open(url, pool=pool or Pool(timeout=loaded.db_pool_timeout),
                          migrate=loaded.migrate_on_start, wait=loaded.schema_wait_seconds)
    except SchemaMismatch as exc:
        raise fail(str(exc)) from None
    except (SQLAlchemyError, OSError) as exc:
        code = unavailable if isinstance(exc, OperationalError | OSError) else 2
        raise fail(f"cannot open the database {_shown(url) or '(default)'}: "
                   f"{str(exc).splitlines()[0]}", code) from None
    except MissingExtra as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:
        raise fail(f"bad database URL {_shown(url)!r}: {exc}") from None


def _shown(url: str | None) -> str | None:
    """The URL without its password (error messages end up in logs and MTA bounces)."""
    import re

    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url) if url else url


def print_json(value: Any) -> None:
    import msgspec

    from tlsscope.jsonable import encode

    encoded = encode(value)
    sys.stdout.buffer.write(msgspec.json.format(encoded, indent=2) + b"\n")
    sys.stdout.flush()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tlsscope {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """tlsscope: read TLS-RPT reports, store them, and explain them."""
    # A command says what went wrong itself, in its own lines; the library's log records
    # (JSON lines under `serve`, which sets its handler) would be bare repeats here.
    logging.getLogger("tlsscope").addHandler(logging.NullHandler())


def day_window(until: dt.datetime | None, days: int) -> tuple[dt.date, dt.date]:
    """The `days` days up to `--until` (default: today, UTC), both ends included."""
    from tlsscope.app.windows import window

    return window(days, until=until.date() if until else None)
