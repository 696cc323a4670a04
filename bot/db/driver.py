"""Hot-path statements run on the database driver itself.

SQLAlchemy Core builds every statement; executing one through SQLAlchemy costs 0.35–0.6 ms of CPU on
PostgreSQL (parameter processing row by row, result set-up, the greenlet hop), asyncpg alone about
0.05 ms. The few statements that every batch of messages runs therefore go to the asyncpg connection
under the SQLAlchemy one, inside its transaction: compiled once, with SQLAlchemy's own bind processors
applied to the parameters that need them (JSON, UTC timestamps). SQLite runs them through SQLAlchemy.

Rows come back as the driver gives them (asyncpg records: by position or by column name; JSON decoded
by the codec SQLAlchemy set up, timestamps timezone-aware), without SQLAlchemy's result processing:
fine for the plain columns these statements return (ids, text, flags, numbers, JSON, UTC timestamps).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.base import Executable

from bot.db.sql import array_rows, dialect_insert, row_params

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in the order of $1, $2, …
    fixed: dict[str, Any]  # the values of the statement's own constants
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processor) where one is needed


_COMPILED: dict[Executable, _Compiled] = {}  # statements are module constants, compiled once


def _compile(stmt: Executable, dialect: Dialect) -> _Compiled:
    compiled: Any = stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
    sql = str(compiled)
    names: list[str] = []
    fixed: dict[str, Any] = {}
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        if bind.expanding:  # a constant IN list: rendered once, as literals (its values are not numbered)
            if bind.required:
                raise ValueError(f"{name}: a list parameter on PostgreSQL is one array (bot.db.sql.one_of)")
            literals = ", ".join(compiled.render_literal_value(value, bind.type) for value in bind.value)
            sql = sql.replace(f"__[POSTCOMPILE_{name}]", literals)
            continue
        names.append(name)
        if not bind.required:  # a constant of the statement
            fixed[name] = bind.value
    processors = []
    for position, name in enumerate(names):
        type_ = compiled.binds[name].type
        if isinstance(type_, ARRAY):  # one array per column (passed as a list): process its items
            process = type_.item_type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors.append((position, _each(process)))
        elif (process := type_.dialect_impl(dialect).bind_processor(dialect)) is not None:
            processors.append((position, process))
    return _Compiled(sql, tuple(names), fixed, tuple(processors))


def _each(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A list's items processed one by one (SQLAlchemy's own array processor is generic, several times dearer)."""
    return lambda values: None if values is None else [process(value) for value in values]


async def _asyncpg(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, inside the SQLAlchemy transaction — through public APIs only.

    SQLAlchemy's asyncpg adapter sends BEGIN with the first statement it runs, and has no public way to
    begin earlier; a statement run on the driver first would run outside the transaction (and SQLAlchemy's
    commit would not end it). So when asyncpg reports no transaction (`is_in_transaction()`), one trivial
    statement goes through SQLAlchemy first: one round trip per transaction that starts on the driver.
    Tested: `tests/test_driver.py` (one transaction id, undone together), `tests/test_dependencies.py`.
    """
    sync = conn.sync_connection  # set once the connection has started: no greenlet hop to reach it
    driver: Any = (sync.connection if sync is not None else await conn.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():
        await conn.exec_driver_sql(_BEGIN)
    return driver


_BEGIN = "SELECT 1"  # run through SQLAlchemy, it makes the adapter begin its transaction


async def fetch(conn: AsyncConnection, stmt: Executable, params: Params) -> Sequence[Any]:
    """Run `stmt` in `conn`'s transaction and return its rows (none for a statement without RETURNING).

    `params`: one mapping (on PostgreSQL list parameters are arrays, see `rows_insert`), or, on SQLite
    only, a list of mappings run as executemany. `stmt` is compiled once and kept: pass a statement built
    once (a module constant, a `per_dialect` one or one cached by its shape), not a new one per call.
    """
    if conn.dialect.name != "postgresql":
        result = await conn.execute(stmt, params)
        return result.all() if result.returns_rows else []
    compiled = _compiled(stmt, conn.dialect)
    values = _values(compiled, params)
    driver = await _asyncpg(conn)
    return await driver.fetch(compiled.sql, *values)


def _compiled(stmt: Executable, dialect: Dialect) -> _Compiled:
    compiled = _COMPILED.get(stmt)
    if compiled is None:
        compiled = _COMPILED[stmt] = _compile(stmt, dialect)
    return compiled


def _values(compiled: _Compiled, params: Params) -> list[Any]:
    """The positional values of a compiled statement, processed where their type needs it."""
    assert isinstance(params, Mapping), "PostgreSQL statements here take one set of (array) parameters"
    values = [params[name] if name in params else compiled.fixed[name] for name in compiled.names]
    for position, process in compiled.processors:
        values[position] = process(values[position])
    return values


async def mappings(conn: AsyncConnection, stmt: Executable, params: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The rows of `stmt` as mappings (column name → value): `fetch`, by name on every database.

    (An asyncpg record is looked up by name like a mapping, and `dict(record)` copies it; iterating one
    yields its values, so use names.)
    """
    if conn.dialect.name != "postgresql":
        rows: list[Any] = list((await conn.execute(stmt, params)).mappings())
        return rows
    return await fetch(conn, stmt, params)


def rows_insert(dialect: str, table: Table, columns: Sequence[str]) -> Any:
    """An INSERT of many rows with these columns, one statement text for any number of rows.

    PostgreSQL: `INSERT … SELECT … FROM unnest(:col1, :col2, …)`, one array parameter per column (pass
    `row_params`), rows inserted in the order given. SQLite: a plain INSERT, run as executemany. The
    dialect's own insert: add `.returning(…)` or `.on_conflict_do_nothing(…)` as needed.
    """
    stmt = dialect_insert(dialect, table)
    if dialect != "postgresql":
        return stmt
    rows = array_rows(**{name: table.c[name].type for name in columns})
    chosen: list[ColumnElement[Any]] = [rows.c[name] for name in columns]
    return stmt.from_select(list(columns), select(*chosen))


@dataclass(frozen=True)
class Write:
    """A statement and its parameters, to run alone (`run`) or with others in one round trip (`run_together`)."""

    stmt: Executable
    params: Params


_INSERTS: dict[tuple[str, Table, tuple[str, ...], bool], Any] = {}


def inserting(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], *, ids: bool = False) -> Write | None:
    """The insert of rows (all with the same keys) as one statement; with `ids` it returns their new ids
    (`new_ids` puts them in row order). None for no rows."""
    if not rows:
        return None
    key = (conn.dialect.name, table, tuple(rows[0]), ids)
    stmt = _INSERTS.get(key)
    if stmt is None:
        stmt = rows_insert(conn.dialect.name, table, list(rows[0]))
        if ids:  # PostgreSQL numbers the rows in the order they are inserted: sorted ids are in row order
            stmt = stmt.returning(table.c.id, sort_by_parameter_order=conn.dialect.name != "postgresql")
        _INSERTS[key] = stmt
    return Write(stmt, row_params(conn, rows))


def new_ids(conn: AsyncConnection, rows: Sequence[Any]) -> list[int]:
    """The ids an insert with `ids` returned, in the order of its rows."""
    found = [row[0] for row in rows]
    return sorted(found) if conn.dialect.name == "postgresql" else found


async def insert_rows(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], *,
                      ids: bool = False) -> list[int]:
    """Insert rows (all with the same keys) in one statement; with `ids`, return their new ids in row order."""
    return new_ids(conn, await run(conn, inserting(conn, table, rows, ids=ids)))


_UPDATES: dict[tuple[str, Table, str, tuple[str, ...], tuple[tuple[str, Any], ...]], Any] = {}


def updating(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], *, key: str = "id",
             **fixed: Any) -> Write | None:
    """The update of many rows (all with the same keys, `key` naming each row) as one statement; `fixed`
    columns get the same value in every row. None for no rows.

    PostgreSQL: `UPDATE … FROM unnest(…)`, one statement text for any number of rows; SQLite: executemany.
    """
    if not rows:
        return None
    columns = tuple(name for name in rows[0] if name != key)
    cache_key = (conn.dialect.name, table, key, columns, tuple(sorted(fixed.items())))
    stmt = _UPDATES.get(cache_key)
    if stmt is None:
        names = (key, *columns)  # parameters are named v_<column>: a SET column's own name is reserved
        if conn.dialect.name == "postgresql":
            given = array_rows(**{f"v_{name}": table.c[name].type for name in names})
            value = {name: given.c[f"v_{name}"] for name in names}
        else:
            value = {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in names}
        stmt = _UPDATES[cache_key] = (update(table).where(table.c[key] == value[key])
                                      .values({name: value[name] for name in columns} | fixed))
    return Write(stmt, row_params(conn, [{f"v_{name}": value for name, value in row.items()} for row in rows]))


async def update_rows(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], *, key: str = "id",
                      **fixed: Any) -> None:
    """Update many rows in one statement (see `updating`)."""
    await run(conn, updating(conn, table, rows, key=key, **fixed))


_UPSERTS: dict[tuple[str, Table, tuple[str, ...], tuple[str, ...]], Any] = {}


def upserting(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]) -> Write | None:
    """The insert of rows (all with the same keys, none twice) that updates the non-key columns of rows that
    exist, as one statement (see `rows_insert`). None for no rows."""
    if not rows:
        return None
    cache_key = (conn.dialect.name, table, tuple(rows[0]), tuple(keys))
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        stmt = rows_insert(conn.dialect.name, table, list(rows[0]))
        updates = {name: stmt.excluded[name] for name in rows[0] if name not in keys}
        stmt = _UPSERTS[cache_key] = stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
    return Write(stmt, row_params(conn, rows))


async def upsert(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows, updating those that exist, in one statement (see `upserting`)."""
    await run(conn, upserting(conn, table, rows, keys))


async def run(conn: AsyncConnection, write: Write | None) -> Sequence[Any]:
    """Run one write (nothing for None); its rows."""
    return [] if write is None else await fetch(conn, write.stmt, write.params)


_TOGETHER: dict[tuple[Executable, ...], str] = {}
_NUMBER = re.compile(r"\$(\d+)")


def _renumber(sql: str, offset: int) -> str:
    """The positional parameters $n of `sql` as $(n + offset) (the compiled SQL of these statements holds no
    other `$`: no dollar-quoting, constants without one)."""
    return _NUMBER.sub(lambda match: f"${int(match.group(1)) + offset}", sql)


async def run_together(conn: AsyncConnection, writes: Sequence[Write | None]) -> Sequence[Any]:
    """Run writes of different tables in one round trip; the rows the first one returns.

    PostgreSQL: one statement, the others as data-modifying `WITH` parts of the first (every part runs; they
    must not touch the same rows). A batch ends with four to six such writes (outbox, audit, triage, thread
    links, next SLA checks, conversations): one round trip instead of one each. SQLite: one after the other.
    """
    chosen = [w for w in writes if w is not None]
    if not chosen:
        return []
    if conn.dialect.name != "postgresql" or len(chosen) == 1:
        rows = await run(conn, chosen[0])
        for write in chosen[1:]:
            await run(conn, write)
        return rows
    parts = [_compiled(w.stmt, conn.dialect) for w in chosen]
    key = tuple(w.stmt for w in chosen)
    sql = _TOGETHER.get(key)
    if sql is None:
        withs: list[str] = []
        offset = len(parts[0].names)
        for part in parts[1:]:  # renumber each part's $n after the parameters of those before it
            withs.append(f"w{len(withs)} AS ({_renumber(part.sql, offset)})")
            offset += len(part.names)
        sql = _TOGETHER[key] = f"WITH {', '.join(withs)} {parts[0].sql}"
    values = [value for write, part in zip(chosen, parts, strict=True) for value in _values(part, write.params)]
    driver = await _asyncpg(conn)
    return await driver.fetch(sql, *values)
