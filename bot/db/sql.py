"""Small dialect-aware Core helpers for PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Integer, Table, any_, bindparam, case, func, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

S = TypeVar("S")


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """SQL aggregate: how many rows of the group meet `condition` (no bound values: safe in any GROUP BY query)."""
    return func.sum(case((condition, literal_column("1", Integer)), else_=literal_column("0", Integer)))


def per_dialect(build: Callable[[str], S]) -> Callable[[AsyncConnection], S]:
    """A statement built once per database kind (by `build(dialect_name)`) and then reused."""
    built: dict[str, S] = {}

    def statement(conn: AsyncConnection) -> S:
        kind = conn.dialect.name
        if kind not in built:
            built[kind] = build(kind)
        return built[kind]

    return statement


def one_of(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """`column` is one of the values of the list parameter `name`.

    On PostgreSQL one array parameter (`= ANY(:name)`): the statement text is the same for every
    length, so nothing is rendered again and the server's prepared statement is reused. SQLite has
    no arrays: an expanding `IN`.
    """
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def array_rows(**columns: TypeEngine[Any]) -> TableValuedAlias:
    """PostgreSQL: a table of rows passed as one array parameter per column (`unnest(:a, :b, …)`,
    parameters named after the columns): one statement for any number of rows."""
    arrays = [bindparam(name, type_=postgresql.ARRAY(type_, dimensions=1)) for name, type_ in columns.items()]
    return func.unnest(*arrays).table_valued(*columns).render_derived(with_types=False)


def row_params(conn: AsyncConnection, rows: list[dict[str, Any]]) -> Any:
    """Parameters of a statement over many rows: one list per column for `array_rows` on PostgreSQL,
    the rows themselves (executemany) elsewhere."""
    if conn.dialect.name != "postgresql":
        return rows
    return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}


def dialect_insert(db: AsyncConnection | str, table: Table) -> Any:
    """An INSERT that knows ON CONFLICT for this connection's database (or this dialect name)."""
    name = db if isinstance(db, str) else db.dialect.name
    module = postgresql if name == "postgresql" else sqlite
    return module.insert(table)


def insert_ignore(db: AsyncConnection | str, table: Table, keys: Sequence[str]) -> Insert:
    """INSERT … ON CONFLICT (keys) DO NOTHING."""
    stmt: Insert = dialect_insert(db, table).on_conflict_do_nothing(index_elements=list(keys))
    return stmt


def skip_locked(conn: AsyncConnection) -> dict[str, Any]:
    """`with_for_update` arguments: SKIP LOCKED on PostgreSQL, nothing on SQLite (one writer)."""
    return {"skip_locked": True} if conn.dialect.name == "postgresql" else {}
