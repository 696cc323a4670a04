"""Statements over lists of values: the same statement text whatever the count (PostgreSQL arrays)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import ServiceInfo
from bot.core.identity import resolve_people
from bot.core.messages import IncomingMessage
from bot.db import migrate
from bot.db.engine import create_engine
from bot.db.models import Person, table
from bot.db.sql import one_of, per_dialect
from bot.settings import Settings

P = table(Person)
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
_BY_IDS = per_dialect(lambda dialect: select(P.c.display_name).where(one_of(P.c.id, "ids", dialect))
                      .order_by(P.c.id))


async def _engine(settings: Settings) -> AsyncEngine:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    await migrate.upgrade(engine)
    return engine


def _message(n: int) -> IncomingMessage:
    return IncomingMessage(channel="telegram", external_id=f"m{n}", user_id=f"u{n}", chat_id=f"c{n}", text="hello",
                           language="en")


async def test_one_of_selects_exactly_the_listed_rows(any_settings: Settings) -> None:
    engine = await _engine(any_settings)
    async with engine.begin() as conn:
        ids = (await conn.execute(insert(P).returning(P.c.id, sort_by_parameter_order=True), [
            {"display_name": name, "role": "practitioner", "language": "en", "timezone": "UTC", "blocked": False,
             "created_at": NOW} for name in ("Ana", "Bo", "Chen")])).scalars().all()
        names = (await conn.execute(_BY_IDS(conn), {"ids": [ids[0], ids[2]]})).scalars().all()
        none = (await conn.execute(_BY_IDS(conn), {"ids": []})).scalars().all()
    await engine.dispose()
    assert names == ["Ana", "Chen"]
    assert none == []


async def test_senders_of_batches_of_any_size_are_found_with_one_statement_text(pg_settings: Settings) -> None:
    engine = await _engine(pg_settings)
    service = ServiceInfo()
    async with engine.begin() as conn:  # first contact: everyone is created
        await resolve_people(conn, [_message(n) for n in range(16)], NOW, service)
    async with engine.begin() as conn:
        one = await resolve_people(conn, [_message(3)], NOW, service)
        many = await resolve_people(conn, [_message(n) for n in range(16)], NOW, service)
        prepared = (await conn.execute(text("SELECT count(*) FROM pg_prepared_statements"
                                            " WHERE statement LIKE 'SELECT identity.channel%'"))).scalar_one()
    await engine.dispose()
    assert prepared == 1  # run on the driver: one statement text, prepared once, for any count
    assert one[("telegram", "u3")].id == many[("telegram", "u3")].id
    assert len({p.id for p in many.values()}) == 16
