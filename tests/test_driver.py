"""Hot-path statements run on the driver: inside the batch's transaction, rows in order, values as SQLAlchemy
would store them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Integer, bindparam, func, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import migrate
from bot.db.driver import fetch, insert_rows, inserting, new_ids, run_together, update_rows, upsert, upserting
from bot.db.engine import create_engine
from bot.db.models import AppSetting, Audit, table
from bot.settings import Settings

A = table(Audit)
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def _engine(settings: Settings) -> AsyncEngine:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    await migrate.upgrade(engine)
    return engine


def _audit(n: int, detail: dict[str, object] | None) -> dict[str, object]:
    return {"at": NOW + timedelta(minutes=n), "actor_id": None, "action": f"act{n}", "ticket_id": None,
            "channel": "console", "allowed": n % 2 == 0, "detail": detail}


async def test_inserted_rows_come_back_with_their_ids_in_row_order(any_settings: Settings) -> None:
    engine = await _engine(any_settings)
    rows = [_audit(n, {"n": n, "text": "é ✓"} if n % 3 else None) for n in range(20)]
    async with engine.begin() as conn:
        ids = await insert_rows(conn, A, rows, ids=True)
        none = await insert_rows(conn, A, [], ids=True)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(A.c.id, A.c.action, A.c.at, A.c.allowed, A.c.detail)
                                     .order_by(A.c.id))).all()
    await engine.dispose()
    assert none == []
    assert ids == [row.id for row in stored]
    assert [(r.action, r.at, r.allowed, r.detail) for r in stored] == [
        (row["action"], row["at"], row["allowed"], row["detail"]) for row in rows]


async def test_driver_statements_are_undone_with_their_transaction(any_settings: Settings) -> None:
    engine = await _engine(any_settings)
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:  # the driver statement comes first: it must begin the transaction
            await insert_rows(conn, A, [_audit(1, None)])
            raise RuntimeError("the batch fails")
    async with engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(A))).scalar_one()
    await engine.dispose()
    assert count == 0


async def test_driver_and_sqlalchemy_statements_share_one_transaction(pg_settings: Settings) -> None:
    engine = await _engine(pg_settings)
    async with engine.begin() as conn:
        (driver_xid,), = await fetch(conn, select(func.txid_current()), {})
        sqlalchemy_xid = (await conn.execute(select(func.txid_current()))).scalar_one()
        # a constant IN list is rendered once; a named parameter is bound at each run
        stmt = select(literal("x").in_(["x", "y"]) & (literal(1) < bindparam("n", type_=Integer)))
        hits = [(await fetch(conn, stmt, {"n": n}))[0][0] for n in (2, 0)]
    await engine.dispose()
    assert driver_xid == sqlalchemy_xid
    assert hits == [True, False]


async def test_many_rows_are_updated_each_with_its_own_values(any_settings: Settings) -> None:
    engine = await _engine(any_settings)
    async with engine.begin() as conn:
        ids = await insert_rows(conn, A, [_audit(n, None) for n in range(5)], ids=True)
        await update_rows(conn, A, [{"id": ids[1], "action": "b", "detail": {"k": 1}},
                                    {"id": ids[3], "action": "d", "detail": None}], channel="web")
        await update_rows(conn, A, [])
    async with engine.connect() as conn:
        stored = (await conn.execute(select(A.c.action, A.c.channel, A.c.detail).order_by(A.c.id))).all()
    await engine.dispose()
    assert [tuple(r) for r in stored] == [("act0", "console", None), ("b", "web", {"k": 1}), ("act2", "console", None),
                                          ("d", "web", None), ("act4", "console", None)]


async def test_upsert_inserts_new_rows_and_updates_existing_ones(any_settings: Settings) -> None:
    engine = await _engine(any_settings)
    setting = table(AppSetting)
    async with engine.begin() as conn:
        await upsert(conn, setting, [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}], ["key"])
        await upsert(conn, setting, [{"key": "b", "value": "20"}, {"key": "c", "value": "3"}], ["key"])
    async with engine.connect() as conn:
        stored = (await conn.execute(select(setting.c.key, setting.c.value).order_by(setting.c.key))).all()
    await engine.dispose()
    assert [tuple(r) for r in stored] == [("a", "1"), ("b", "20"), ("c", "3")]


async def test_writes_of_several_tables_run_together_each_with_its_own_values(any_settings: Settings) -> None:
    engine = await _engine(any_settings)
    setting = table(AppSetting)
    first = [_audit(n, {"n": n}) for n in range(3)]
    async with engine.begin() as conn:
        rows = await run_together(conn, [
            inserting(conn, A, first, ids=True),  # its ids come back
            None,  # nothing to write
            upserting(conn, setting, [{"key": "k", "value": "v"}], ["key"]),
            inserting(conn, A, [_audit(9, None) | {"channel": "web"}]),
        ])
        ids = new_ids(conn, rows)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(A.c.id, A.c.action, A.c.channel, A.c.detail).order_by(A.c.id))).all()
        value = (await conn.execute(select(setting.c.value).where(setting.c.key == "k"))).scalar_one()
    await engine.dispose()
    assert ids == [r.id for r in stored[:3]]
    assert [(r.action, r.channel, r.detail) for r in stored] == [
        ("act0", "console", {"n": 0}), ("act1", "console", {"n": 1}), ("act2", "console", {"n": 2}),
        ("act9", "web", None)]
    assert value == "v"
