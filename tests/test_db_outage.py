"""The database goes away while messages arrive: nothing is acknowledged, nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.core.messages import IncomingMessage
from bot.db.engine import create_engine
from bot.db.models import Message, Outbox, table
from bot.http import create_http_app
from bot.settings import Settings
from tests.conftest import PG_URL
from tests.desk import start_desk
from tests.fakes.proxy import CuttableProxy


def hello(n: int) -> IncomingMessage:
    return IncomingMessage(channel="telegram", external_id=f"u{n}", user_id=f"p{n}", chat_id=f"c{n}", text="hello",
                           language="en")


async def test_outage_then_redelivery_is_handled_exactly_once(pg_settings: Settings,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    import httpx

    url = make_url(PG_URL)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    desk = await start_desk(pg_settings.model_copy(update={"database_url": proxied}))
    web = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_http_app(desk.app)), base_url="http://t")
    try:
        assert (await desk.app.submit(hello(0))).message_id is not None
        assert (await web.get("/readyz")).status_code == 200

        await proxy.cut()
        refused = 0
        for n in range(1, 4):  # the channel would not acknowledge these, so they come again later
            try:
                await desk.app.submit(hello(n))
            except Exception:
                refused += 1
        assert refused == 3
        assert (await web.get("/readyz")).status_code == 503

        await proxy.restore()
        for n in range(0, 4):  # redelivery of everything, including the one already stored
            await desk.app.submit(hello(n))
        await desk.settle()
        assert (await web.get("/readyz")).status_code == 200
        async with desk.app.engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(table(Message)))).scalar_one()
            replies = (await conn.execute(select(func.count()).select_from(table(Outbox))
                                          .where(table(Outbox).c.status == "sent"))).scalar_one()
        assert stored == 4 and replies == 4
        assert not [r for r in caplog.records if r.exc_info], "the outage logged a traceback"
        refusals = [r.getMessage() for r in caplog.records if "not stored" in r.getMessage()]
        assert len(refusals) == 3 and all("the channels deliver them again" in m for m in refusals)
    finally:
        await web.aclose()
        await desk.app.stop()
        await proxy.cut()


async def test_the_first_statements_after_the_database_comes_back_succeed(pg_settings: Settings) -> None:
    """Pooled connections the outage dropped are replaced when checked out (pre-ping), not handed out broken."""
    url = make_url(PG_URL)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    engine = create_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                           pool_size=3, schema=pg_settings.database_schema)

    async def one() -> int:
        async with engine.connect() as conn:
            value = (await conn.execute(text("SELECT 1"))).scalar_one()
            await asyncio.sleep(0.05)  # hold the connection so the pool fills
            return int(value)

    try:
        assert await asyncio.gather(*(one() for _ in range(3))) == [1, 1, 1]
        await proxy.cut()
        await proxy.restore()
        async with asyncio.timeout(10):  # a broken connection handed out again would hang or fail here
            assert await asyncio.gather(*(one() for _ in range(3))) == [1, 1, 1]
            assert [await one() for _ in range(3)] == [1, 1, 1]
    finally:
        await engine.dispose()
        await proxy.cut()
