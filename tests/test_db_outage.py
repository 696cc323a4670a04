"""The database goes away while messages arrive: nothing is acknowledged, nothing lost, nothing doubled."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.core.messages import IncomingMessage
from bot.db.models import Message, Outbox, table
from bot.http import create_http_app
from bot.settings import Settings
from tests.conftest import PG_URL
from tests.desk import start_desk
from tests.fakes.proxy import CuttableProxy


def hello(n: int) -> IncomingMessage:
    return IncomingMessage(channel="telegram", external_id=f"u{n}", user_id=f"p{n}", chat_id=f"c{n}", text="hello",
                           language="en")


async def test_outage_then_redelivery_is_handled_exactly_once(pg_settings: Settings) -> None:
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
    finally:
        await web.aclose()
        await desk.app.stop()
        await proxy.cut()
