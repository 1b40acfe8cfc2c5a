"""Many rows in one statement: the writer's inserts and upserts, on both databases.

    insert_all    rows that cannot be there yet (policies, failure rows, arrivals, repeats)
    insert_new    rows whose key may be there: `ON CONFLICT DO NOTHING RETURNING`, so the
                  caller learns which went in
    upsert        `ON CONFLICT (keys) DO UPDATE`: roll-up sums, marks; one row per key
    pipelined     PostgreSQL: the statements inside, sent together, answered in one go

PostgreSQL gets each as ONE statement whatever the number of rows, `INSERT ... SELECT * FROM
json_populate_recordset(NULL::table, $1)` (the rows as one JSON document), or
`... FROM unnest($1::bytea[], ...)` (one array per column, for inputs' raw bytes): a short
statement text that psycopg converts once and the server prepares once. A multi-row VALUES
list of thousands of placeholders was re-parsed by psycopg for every batch, an executemany
sends one Bind/Execute per row, and psycopg's array dumpers cost ~1 µs per value in Python
(msgspec encodes the JSON in C). Statements whose results are not read go in one pipeline
(see write.save: a batch is 6 round-trips, BEGIN and COMMIT included; psycopg sends BEGIN
on its own, even in a pipeline). SQLite gets what is
cheapest there: a multi-row VALUES (RETURNING) or the driver's executemany (in-process: no
round-trips to save).

Rows are written in key order (one lock order for every writer, so concurrent writers do
not deadlock); both sources hand their rows to the INSERT in order. Each statement is
compiled once per dialect and column set; the column types' bind processors are applied
directly (SQLAlchemy's own executemany builds parameters row by row in Python, which cost
more than the database work here).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
from sqlalchemy import LargeBinary, Table, literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from tlsscope.store.engine import dialect_insert

_MAX_PARAMS = 30_000  # below SQLite's 32,766 bound parameters (multi-row VALUES)
_SOURCE = "tlsscope_bulk_source"  # stands in for the unnest(...) until the text is spliced

# (dialect, table, kind, columns) -> (SQL text, rows -> its parameters): PostgreSQL
_statements: dict[tuple[str, str, str, tuple[str, ...]], tuple[str, Any]] = {}
# (dialect, table, kind, columns) -> (SQL text, parameter order, row -> values): SQLite
_many: dict[tuple[str, str, str, tuple[str, ...]], tuple[str, list[str], Any]] = {}
_json = msgspec.json.Encoder()


def insert_all(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows (no conflict expected: their keys are new)."""
    if not rows:
        return
    if _postgres(connection):
        _from_rows(connection, table, "insert", rows, lambda insert: insert)
        return
    _executemany(connection, table, "insert", rows, table.insert)


def insert_new(connection: Connection, table: Table, keys: tuple[str, ...],
               rows: list[dict[str, Any]], back: tuple[str, ...]) -> list[Any]:
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING back` of rows whose `keys` may be taken
    (by a stored row, another writer's, or an earlier row of the same list); the returned
    rows are those that went in."""
    if not rows:
        return []
    rows = sorted(rows, key=operator.itemgetter(*keys))
    dialect = connection.dialect
    names = list(rows[0])
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    tail = " ON CONFLICT DO NOTHING RETURNING " + ", ".join(quote(name) for name in back)
    if _postgres(connection):
        sql, made = _known(
            connection, table, "new:" + ",".join(back), names,
            lambda: f"INSERT INTO {table.name} ({columns}) SELECT * FROM "
                    f"{_source(connection, table, names)}{tail}")
        return list(connection.exec_driver_sql(sql, made(rows)))
    convert = _converter(table, names, dialect)
    one = "(" + ", ".join(["?"] * len(names)) + ")"
    step = max(1, _MAX_PARAMS // len(names))
    inserted: list[Any] = []
    for start in range(0, len(rows), step):
        chunk = rows[start:start + step]
        params = tuple(value for row in chunk for value in convert(row))
        sql = f"INSERT INTO {table.name} ({columns}) VALUES " + ", ".join([one] * len(chunk))
        inserted.extend(connection.exec_driver_sql(sql + tail, params))
    return inserted


def upsert(connection: Connection, table: Table, rows: list[dict[str, Any]], kind: str,
           keys: list[str], make: Callable[[Any], Any]) -> None:
    """`INSERT ... ON CONFLICT (keys) DO UPDATE`, rows in key order, at most one per key.
    `make(insert)` adds the ON CONFLICT clause to the dialect's insert (only called the first
    time: `kind` names the statement for the cache)."""
    if not rows:
        return
    rows = sorted(rows, key=operator.itemgetter(*keys))
    if _postgres(connection):
        _from_rows(connection, table, kind, rows, make)
        return
    _executemany(connection, table, kind, rows, lambda: make(dialect_insert(connection, table)))


@contextmanager
def pipelined(connection: Connection) -> Iterator[None]:
    """PostgreSQL: the statements executed inside go out together and are answered in one
    round-trip at the end (psycopg's pipeline mode), where the first error is raised, as
    SQLAlchemy's DBAPIError (a dropped connection invalidated, so Store.save retries).
    Only for statements whose results are read after it. Elsewhere it does nothing."""
    if not _postgres(connection):
        yield
        return
    driver: Any = connection.connection.driver_connection
    dbapi: Any = connection.dialect.loaded_dbapi
    try:
        with driver.pipeline():
            yield
    except dbapi.Error as exc:
        lost = connection.dialect.is_disconnect(exc, driver, None)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance("(pipelined statements)", None, exc, dbapi.Error,
                                  connection_invalidated=lost,
                                  dialect=connection.dialect) from exc


def _postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def _from_rows(connection: Connection, table: Table, kind: str, rows: list[dict[str, Any]],
                 make: Callable[[Any], Any]) -> None:
    """PostgreSQL: `make(INSERT INTO table (columns) SELECT * FROM <the rows>)`, executed
    once (the rows: see _source)."""
    names = list(rows[0])

    def statement() -> str:
        source: Any = select(literal_column("*")).select_from(text(_SOURCE))
        made = make(dialect_insert(connection, table).from_select(names, source))
        # no parameters but the rows: constants of the ON CONFLICT clause are in the text
        sql = str(made.compile(dialect=connection.dialect,
                               compile_kwargs={"literal_binds": True}))
        return sql.replace(_SOURCE, _source(connection, table, names))

    sql, made = _known(connection, table, kind, names, statement)
    connection.exec_driver_sql(sql, made(rows))


def _known(connection: Connection, table: Table, kind: str, names: list[str],
           statement: Callable[[], str]) -> tuple[str, Callable[[list[dict[str, Any]]], Any]]:
    """PostgreSQL's statement text for these columns, made once, and what makes its
    parameters from the rows."""
    dialect = connection.dialect
    key = (dialect.name, table.name, kind, tuple(names))
    known = _statements.get(key)
    if known is None:
        convert = _converter(table, names, dialect)
        if _binary(table, names):
            def params(rows: list[dict[str, Any]]) -> Any:
                values = [convert(row) for row in rows]
                return {name: [value[i] for value in values] for i, name in enumerate(names)}
        elif isinstance(convert, operator.itemgetter):  # no value to convert
            def params(rows: list[dict[str, Any]]) -> Any:
                return {"rows": _json.encode(rows).decode()}
        else:
            def params(rows: list[dict[str, Any]]) -> Any:
                return {"rows": _json.encode([dict(zip(names, convert(row), strict=True))
                                              for row in rows]).decode()}
        known = _statements[key] = (statement(), params)
    return known


def _binary(table: Table, names: list[str]) -> bool:
    return any(isinstance(table.c[name].type, LargeBinary) for name in names)


def _source(connection: Connection, table: Table, names: list[str]) -> str:
    """The rows as a FROM item of the columns `names`, in that order, in one round-trip and
    short text: one JSON document (`json_populate_recordset`, typed by the table's own row
    type: msgspec encodes it in C, where psycopg's array dumpers work element by element in
    Python), or, for a table with raw bytes, one array per column (`unnest`), sent binary."""
    dialect = connection.dialect
    if not _binary(table, names):
        quote = dialect.identifier_preparer.quote
        columns = ", ".join(quote(name) for name in names)
        return (f"(SELECT {columns} FROM json_populate_recordset(NULL::{quote(table.name)}, "
                "CAST(%(rows)s AS json))) AS tlsscope_rows")
    arrays = ", ".join(f"CAST(%({name})b AS {table.c[name].type.compile(dialect=dialect)}[])"
                       for name in names)
    return f"unnest({arrays})"


def _executemany(connection: Connection, table: Table, kind: str, rows: list[dict[str, Any]],
                 statement: Callable[[], Any]) -> None:
    """Rows through the driver's executemany (SQLite: in-process, no round-trips)."""
    dialect = connection.dialect
    names = list(rows[0])
    key = (dialect.name, table.name, kind, tuple(names))
    known = _many.get(key)
    if known is None:
        compiled = statement().compile(dialect=dialect, column_keys=names)
        order = list(compiled.positiontup or []) if compiled.positional else names
        constants = {name: compiled.params[name] for name in order if name not in names}
        known = _many[key] = (str(compiled), order, _converter(table, order, dialect, constants))
    sql, order, convert = known
    values = [convert(row) for row in rows]
    positional = dialect.paramstyle in ("qmark", "numeric", "format")
    params: list[Any] = values if positional else [
        dict(zip(order, value, strict=True)) for value in values]
    connection.exec_driver_sql(sql, params)


def _converter(table: Table, names: list[str], dialect: Any,
               constants: dict[str, Any] | None = None) -> Any:
    """row dict → tuple of driver values in `names` order, through the types' processors;
    `constants`: parameters of the statement itself (`gen + 1`), the same in every row."""
    if constants:
        get_row = _converter(table, [n for n in names if n not in constants], dialect)
        fixed = [(i, constants[n]) for i, n in enumerate(names) if n in constants]

        def with_constants(row: dict[str, Any]) -> tuple[Any, ...]:
            value = list(get_row(row))
            for i, constant in fixed:
                value.insert(i, constant)
            return tuple(value)

        return with_constants
    get = operator.itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    processors = [(i, p) for i, name in enumerate(names)
                  if (p := table.c[name].type.bind_processor(dialect)) is not None]
    if not processors:
        return get

    def convert(row: dict[str, Any]) -> tuple[Any, ...]:
        value = list(get(row))
        for i, processor in processors:
            if value[i] is not None:
                value[i] = processor(value[i])
        return tuple(value)

    return convert
