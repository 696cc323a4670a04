"""The web chat with two replicas on one PostgreSQL: a browser on either gets every post live, once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, text

from bot.channels.web import CHANNEL, RELOAD, WebChannel, post_ref
from bot.core.messages import OutgoingMessage
from bot.db.broadcast import MAX_PAYLOAD, channel_name
from bot.db.models import Identity, Outbox, table
from bot.http import HttpServer
from bot.settings import Settings
from tests.desk import Desk, start_desk
from tests.fakes.desk_process import free_port
from tests.webdesk import FAQ_QUESTION, Browser, browser, http_app

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("no_proxy")]
O, I = table(Outbox), table(Identity)  # noqa: E741
WAIT = 5.0  # seconds an event may take


def web(desk: Desk) -> WebChannel:
    channel = desk.app.channels["web"]
    assert isinstance(channel, WebChannel)
    return channel


@dataclass
class Stream:
    """A browser's open /chat/events: the events it got, in order."""

    events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def read(self, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "/chat/events") as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    self.events.put_nowait(json.loads(line.removeprefix("data: ")))

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), WAIT)

    async def nothing_more(self) -> None:
        await asyncio.sleep(0.3)
        assert self.events.empty(), f"more events: {self.events.get_nowait()}"

    async def all(self) -> list[dict[str, Any]]:
        """Every event until the stream is quiet for a moment."""
        events = [await self.next()]
        with suppress(TimeoutError):
            while True:
                events.append(await asyncio.wait_for(self.events.get(), 0.3))
        return events


@dataclass
class Replicas:
    """Desk ONE takes the browser's posts and drains the outbox; the browser's stream is open on desk TWO."""

    one: Desk
    two: Desk
    alice: Browser  # on desk one
    chat: str
    stream: Stream  # alice's stream, on desk two's server


@asynccontextmanager
async def stream_on(url: str, cookies: httpx.Cookies) -> AsyncIterator[Stream]:
    stream = Stream()
    async with httpx.AsyncClient(base_url=url, cookies={"hd_chat": cookies["hd_chat"]}, timeout=None) as client:
        task = asyncio.create_task(stream.read(client))
        try:
            yield stream
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


@pytest.fixture
async def replicas(pg_settings: Settings) -> AsyncIterator[Replicas]:
    one = await start_desk(pg_settings)
    two = await start_desk(pg_settings, with_kb=False)  # drain=False: only desk one drains (settle)
    app_one, app_two = http_app(one), http_app(two)
    await web(one).start(one.app)
    await web(two).start(two.app)
    port = free_port()
    server = HttpServer(app_two, "127.0.0.1", port)
    await server.start()
    alice = browser(app_one)
    try:
        assert (await alice.say(FAQ_QUESTION)).status_code == 202  # stored by desk one; its answer waits
        async with one.app.engine.connect() as conn:
            chat = (await conn.execute(select(I.c.chat_id).where(I.c.channel == "web"))).scalar_one()
        async with stream_on(f"http://127.0.0.1:{port}", alice.client.cookies) as stream:
            for _ in range(100):
                if web(two).connected(chat):
                    break
                await asyncio.sleep(0.02)
            yield Replicas(one, two, alice, chat, stream)
    finally:
        await server.stop()
        for desk in (one, two):
            await web(desk).close()
            await desk.app.stop()


async def add_row(desk: Desk, chat: str, body: str, **values: Any) -> int:
    """An outbox row of the chat, as a handler writes it."""
    now = desk.clock.now()
    async with desk.app.engine.begin() as conn:
        return int((await conn.execute(insert(O).values(
            channel="web", chat_id=chat, text=body, next_attempt_at=now, created_at=now, **values)
            .returning(O.c.id))).scalar_one())


async def test_the_answer_and_an_edit_reach_a_browser_on_the_other_replica_once(replicas: Replicas) -> None:
    r = replicas
    here = web(r.one).subscribe(r.chat)  # a browser on desk one as well
    await r.one.settle()  # desk one sends the answer
    events = await r.stream.all()
    async with r.one.app.engine.connect() as conn:
        rows = list(await conn.execute(select(O.c.id, O.c.status).where(O.c.chat_id == r.chat).order_by(O.c.id)))
    assert [e["id"] for e in events] == [post_ref(row.id) for row in rows] and {row.status for row in rows} == {"sent"}
    answer = events[0]
    assert answer["from"] == "bot" and "transparency" in answer["text"].lower() and answer["buttons"]
    assert [json.loads(here.get_nowait()) for _ in events] == events and here.empty()
    await web(r.one).send(OutgoingMessage(outbox_id=0, channel="web", chat_id=r.chat, text="Edited answer",
                                          kind="edit", edit_external_id=answer["id"]))
    edit = await r.stream.next()
    assert (edit["id"], edit["kind"], edit["text"], edit["buttons"]) == (answer["id"], "edit", "Edited answer", [])
    await r.stream.nothing_more()  # once each: desk one ignores its own notification, desk two passes it on once
    assert json.loads(here.get_nowait()) == edit and here.empty()


async def test_a_post_too_long_for_a_notification_is_read_from_the_outbox(replicas: Replicas) -> None:
    r = replicas
    await r.one.settle()
    await r.stream.all()  # the FAQ answer
    long = "Ünïcödé report " * (MAX_PAYLOAD // 10)
    post = await add_row(r.one, r.chat, long, ref="long")
    await r.one.settle()
    event = await r.stream.next()
    assert (event["id"], event["text"]) == (post_ref(post), long)
    edited = long.upper()
    edit = await add_row(r.one, r.chat, edited, ref="long", kind="edit", status="sent")
    await web(r.one).send(OutgoingMessage(outbox_id=edit, channel="web", chat_id=r.chat, text=edited,
                                          kind="edit", edit_external_id=post_ref(post)))
    event = await r.stream.next()
    assert (event["id"], event["text"]) == (post_ref(post), edited)
    assert event == (await r.alice.history())[-1]  # as the page's history shows it
    await r.stream.nothing_more()


async def listeners(desk: Desk, channel: str) -> set[int]:
    async with desk.app.engine.connect() as conn:
        return {row.pid for row in await conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE query = :query"), {"query": f'LISTEN "{channel}"'})}


async def test_listeners_reconnect_after_their_connection_is_killed(replicas: Replicas, pg_settings: Settings) -> None:
    r = replicas
    channel = channel_name(CHANNEL, pg_settings.database_schema)
    killed = await listeners(r.one, channel)
    assert len(killed) == 2  # one per replica
    async with r.one.app.engine.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"),
                           {"pids": list(killed)})
    assert await r.stream.next() == RELOAD  # desk two listens again: the page reloads what it may have missed
    for _ in range(100):
        now = await listeners(r.one, channel)
        if len(now) == 2 and not now & killed:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"listeners did not come back: {now} (killed {killed})")
    await r.one.settle()
    events = await r.stream.all()
    assert "transparency" in events[0]["text"].lower() and len({e["id"] for e in events}) == len(events)


async def test_on_sqlite_the_web_channel_stays_local(sqlite_settings: Settings) -> None:
    desk = await start_desk(sqlite_settings)
    try:
        http_app(desk)
        await web(desk).start(desk.app)
        assert web(desk).describe() == "web chat"
        await web(desk).close()
    finally:
        await desk.app.stop()


@pytest.mark.browser
async def test_the_chat_page_shows_a_repeated_post_once_and_reloads_when_told(sqlite_settings: Settings) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.test_web_browser import ARGS, CHROMIUM, _require_chromium

    _require_chromium()
    desk = await start_desk(sqlite_settings)
    port = free_port()
    server = HttpServer(http_app(desk), "127.0.0.1", port)
    await server.start()
    try:
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = await chromium.new_page()
            await page.goto(f"http://127.0.0.1:{port}/chat")
            await page.get_by_label("Your question").fill(FAQ_QUESTION)
            await page.get_by_label("Your question").press("Enter")
            mine, bot = page.locator(".msg.me"), page.locator(".msg.bot")
            await expect(mine).to_have_count(1)
            for _ in range(100):
                async with desk.app.engine.connect() as conn:
                    chat = (await conn.execute(select(I.c.chat_id).where(I.c.channel == "web"))).scalar()
                if chat is not None and web(desk).connected(chat):
                    break
                await asyncio.sleep(0.05)
            assert chat is not None
            sent = web(desk).subscribe(chat)
            await desk.settle()
            events = [json.loads(sent.get_nowait()) for _ in range(sent.qsize())]
            await expect(bot).to_have_count(len(events), timeout=WAIT * 1000)
            for event in (*events, *events):  # the same posts again, e.g. resent after a crash: replaced, not added
                web(desk).publish(chat, event)
            await add_row(desk, chat, "Posted while this page was not listening")  # in the history only
            web(desk).publish(chat, RELOAD)
            await expect(page.locator(".msg.bot", has_text="while this page")).to_be_visible(timeout=WAIT * 1000)
            await expect(bot).to_have_count(len(events) + 1)
            await expect(mine).to_have_count(1)
            await chromium.close()
    finally:
        await server.stop()
        await desk.app.stop()


def test_channel_names_fit_postgresql() -> None:
    assert channel_name(CHANNEL, None) == CHANNEL
    assert channel_name(CHANNEL, "t_0123") == "helpdesk_web_t_0123"
    long = channel_name(CHANNEL, "x" * 80)
    assert len(long) <= 63 and long != channel_name(CHANNEL, "x" * 81)
