"""Files both ways between the chat platforms and the web chat, on the real adapters against the fake Bot API and
the fake Slack: an expert's Telegram file becomes a download in the web chat (for the practitioner and the
ticket's staff only), and a web chat file reaches the expert on Telegram as a document and on Slack as a file in
the ticket's thread, once even when its delivery is retried after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update
from starlette.applications import Starlette

from bot.app import HelpDesk
from bot.channels.slack import SlackChannel, outbox_metadata
from bot.channels.slack_blocks import message_payload
from bot.channels.telegram import TelegramChannel
from bot.core.files import FileStore
from bot.core.login import staff_login_url
from bot.core.messages import Attachment, OutgoingMessage
from bot.db.models import Outbox, StoredFile, table
from bot.http import create_http_app
from bot.settings import Settings
from bot.web.app import web_routes
from tests.channels_support import ENERGY_QUESTION, add_person, started_channel, write_config
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.webdesk import BASE, Browser, browser

pytestmark = pytest.mark.timeout(30)
GROUP, SECRETARIAT, OMAR, SOFIA = -100500, -100900, 222, 444
AMINA, ENERGY, SECRETARIAT_SLACK = "U0AMINA", "C0ENERGY", "C0SECRET"
O = table(Outbox)  # noqa: E741
T = TypeVar("T")
GUIDE = b"%PDF-1.4\n% ESMAP solar pumping guide\n" + b"0" * 1500
SPECS = b"%PDF-1.4\n% pump specifications\n"


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(rate_limits=None) as fake:
        for chat in (OMAR, SOFIA):
            fake.add_chat(chat)
        fake.add_chat(GROUP, "supergroup", title="Energy experts")
        fake.add_chat(SECRETARIAT, "group", title="Secretariat")
        yield fake


@pytest.fixture
async def desk(sqlite_settings: Settings, tmp_path: Path, tg: FakeTelegram) -> AsyncIterator[HelpDesk]:
    config = write_config(tmp_path / "helpdesk.toml", energy_spaces=[("telegram", str(GROUP))],
                          secretariat_spaces=[("telegram", str(SECRETARIAT))], energy_experts=["omar"])
    channel = TelegramChannel(tg.token, tg.api_url, poll_timeout=1, files=FileStore(sqlite_settings.helpdesk_files_dir))
    people = [("omar", "expert", str(OMAR)), ("sam", "secretariat", "333")]
    async with started_channel(sqlite_settings, config, "telegram", channel, people) as app:
        yield app


async def signed_in(app: HelpDesk, web: Any, handle: str) -> Browser:
    async with app.engine.begin() as conn:
        url = await staff_login_url(conn, handle, app.clock.now(), BASE)
    assert url is not None
    staff = browser(web)
    await staff.sign_in(url.rsplit("=", 1)[1])
    return staff


async def until(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """What `probe` answers once it answers something (within ten seconds)."""
    for _ in range(200):
        found = await probe()
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def wait_history(practitioner: Browser, text: str) -> dict[str, Any]:
    """The newest web chat item with `text`, once it is there."""
    async def newest() -> dict[str, Any] | None:
        found = [item for item in await practitioner.history() if text in str(item["text"])]
        return found[-1] if found else None

    return await until(newest, f"the web chat shows {text!r}")


async def energy_ticket(app: HelpDesk) -> tuple[Starlette, Browser]:
    """The web pages, and a practitioner whose question there became ticket #1 in ENERGY."""
    web = create_http_app(app, web_routes(app))
    alice = browser(web)
    await alice.say(ENERGY_QUESTION)
    await wait_history(alice, "ticket #1")
    return web, alice


async def test_a_telegram_experts_file_is_downloaded_in_the_web_chat_and_a_web_file_reaches_telegram(
        desk: HelpDesk, tg: FakeTelegram) -> None:
    web, alice = await energy_ticket(desk)
    tg.user_sends(OMAR, "/claim 1")
    await tg.wait_for(lambda: any("#1" in m.get("text", "") for m in tg.sent(OMAR)), 10)

    tg.user_sends_document(OMAR, GUIDE, file_name="guide.pdf", mime_type="application/pdf", caption="See the guide")
    answer = await wait_history(alice, "See the guide")
    [item] = answer["files"]
    assert item["label"] == "📎 guide.pdf (1 KB)" and item["url"].startswith("/files/")
    async with desk.engine.connect() as conn:  # nothing fetched before someone asks for it
        assert (await conn.execute(select(table(StoredFile).c.sha256))).scalar_one() == ""

    got = await alice.client.get(item["url"])
    assert got.status_code == 200 and got.content == GUIDE
    assert got.headers["content-type"] == "application/pdf" and got.headers["content-disposition"].startswith(
        "attachment;")
    assert (await alice.client.get(item["url"])).content == GUIDE  # the second time from the file store
    sam = await signed_in(desk, web, "sam")
    assert (await sam.client.get(item["url"])).status_code == 200
    bob = browser(web)
    await bob.say("How do we regulate motorcycle taxis to cut emissions in our capital?")
    assert (await bob.client.get(item["url"])).status_code == 404  # another practitioner
    await add_person(desk, "sofia", "expert", "telegram", str(SOFIA), str(SOFIA))  # AFOLU and FINANCE only
    sofia = await signed_in(desk, web, "sofia")
    assert (await sofia.client.get(item["url"])).status_code == 404
    assert (await browser(web).client.get(item["url"])).status_code == 403  # nobody known

    sent = await alice.upload("pump specs.pdf", SPECS, "Our pump specifications")
    assert sent.status_code == 202
    await tg.wait_for(lambda: any("document" in m for m in tg.sent(OMAR)), 10)
    document = next(m for m in tg.sent(OMAR) if "document" in m)["document"]
    assert document["file_name"] == "pump specs.pdf"
    channel = desk.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    assert await channel.download(document["file_id"], 10_000) == SPECS  # the bytes, not a link
    relayed = [m.get("text", "") for m in tg.sent(OMAR) if "Our pump specifications" in m.get("text", "")]
    assert relayed and "/files/" not in relayed[0]


async def test_a_slack_experts_file_is_fetched_with_the_bot_token() -> None:
    async with FakeSlack() as slack:
        shared = slack.add_file(GUIDE, "guide.pdf", mimetype="application/pdf")
        channel = SlackChannel(slack.bot_token, slack.api_url)
        try:
            assert await channel.download(shared["id"], 10_000) == GUIDE
            with pytest.raises(ValueError, match="more than 100"):
                await channel.download(shared["id"], 100)
        finally:
            await channel.close()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_user(AMINA, name="amina", real_name="Amina K.")
        fake.add_channel(ENERGY, "energy-experts")
        fake.add_channel(SECRETARIAT_SLACK, "helpdesk-secretariat")
        yield fake


@pytest.fixture
async def slack_desk(sqlite_settings: Settings, tmp_path: Path, slack: FakeSlack) -> AsyncIterator[HelpDesk]:
    config = write_config(tmp_path / "helpdesk.toml", energy_spaces=[("slack", ENERGY)],
                          secretariat_spaces=[("slack", SECRETARIAT_SLACK)], energy_experts=["amina"])
    channel = SlackChannel(slack.bot_token, slack.api_url, app_token=slack.app_token,
                           files=FileStore(sqlite_settings.helpdesk_files_dir))
    async with started_channel(sqlite_settings, config, "slack", channel, [("amina", "expert", AMINA)]) as app:
        yield app


async def wait_recorded(app: HelpDesk, outbox_id: int) -> str:
    """The platform id of an outbox row once the drainer has recorded it as sent."""
    async def sent() -> str | None:
        async with app.engine.connect() as conn:
            row = (await conn.execute(select(O.c.status, O.c.external_id).where(O.c.id == outbox_id))).one()
        return row.external_id if row.status == "sent" else None

    return await until(sent, f"outbox row {outbox_id} is recorded as sent")


async def test_a_web_chat_file_reaches_the_slack_experts_thread_as_a_file_once(
        slack_desk: HelpDesk, slack: FakeSlack) -> None:
    _, alice = await energy_ticket(slack_desk)
    await slack.wait_for(lambda: any("Ticket #1" in m["text"] for m in slack.posted(ENERGY)), 10)
    card = next(m for m in slack.posted(ENERGY) if "Ticket #1" in m["text"])

    assert (await alice.upload("pump specs.pdf", SPECS, "Our pump specifications")).status_code == 202
    await slack.wait_for(lambda: any(m.get("files") for m in slack.posted(ENERGY)), 10)
    relayed, shared = slack.posted(ENERGY)[-2:]
    assert "Our pump specifications" in relayed["text"] and "/files/" not in relayed["text"]
    assert relayed["thread_ts"] == shared["thread_ts"] == card["ts"]  # in the ticket's thread, after the text
    [file] = shared["files"]
    assert file["name"] == "pump specs.pdf" and file["size"] == len(SPECS)
    channel = slack_desk.channels["slack"]
    assert isinstance(channel, SlackChannel)
    assert await channel.download(file["id"], 10_000) == SPECS  # files.info, then url_private: the same bytes
    assert [c.params["thread_ts"] for c in slack.calls("files.completeUploadExternal")] == [card["ts"]]

    posts = len(slack.posted(ENERGY))
    async with slack_desk.engine.connect() as conn:
        row_id, external_id = (await conn.execute(select(O.c.id, O.c.external_id).where(
            O.c.attachments.is_not(None), O.c.channel == "slack"))).one()
    async with slack_desk.engine.begin() as conn:  # the replica that sent it was killed before recording it
        now = slack_desk.clock.now()
        await conn.execute(update(O).where(O.c.id == row_id).values(
            status="sending", attempts=1, external_id=None, sent_at=None, next_attempt_at=now,
            lease_until=now - timedelta(seconds=1)))
    assert slack_desk.drainer is not None
    slack_desk.drainer.wake()
    assert await wait_recorded(slack_desk, row_id) == external_id  # found again, by metadata and file
    assert len(slack.calls("conversations.replies")) == 1  # it was looked up, not posted again
    assert len(slack.calls("files.completeUploadExternal")) == 1 and len(slack.posted(ENERGY)) == posts


async def test_a_retried_slack_file_row_shares_only_its_own_missing_file(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    specs = Attachment("document", "w1", "pump specs.pdf", len(SPECS), "application/pdf", "web", "/files/w1",
                       store.put(SPECS))
    async with FakeSlack() as slack:
        slack.add_channel(ENERGY, "energy-experts")
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        card = await web.chat_postMessage(channel=ENERGY, text="Ticket #5")
        thread = f"{ENERGY}/{card['ts']}"
        # another row shared the same file in the thread; then row 8's text went out and its sender was killed
        await web.files_upload_v2(channel=ENERGY, thread_ts=card["ts"], file=SPECS, filename="pump specs.pdf")
        text = await web.chat_postMessage(channel=ENERGY, thread_ts=card["ts"], metadata=outbox_metadata(8, 0),
                                          **message_payload("Our pump specifications"))
        channel = SlackChannel(slack.bot_token, slack.api_url, files=store)
        try:
            row = OutgoingMessage(8, "slack", ENERGY, "Our pump specifications", thread_external_id=thread,
                                  attachments=(specs,), attempt=2)
            assert await channel.send(row) == f"{ENERGY}/{text['ts']}"
            shares = [m for m in slack.posted(ENERGY) if m.get("files")]
            assert len(shares) == 2 and float(shares[-1]["ts"]) > float(text["ts"])  # the earlier share was not its
            assert len(slack.posted(ENERGY)) == 4
            assert await channel.send(replace(row, attempt=3)) == f"{ENERGY}/{text['ts']}"  # now all of it is there
            assert len(slack.posted(ENERGY)) == 4

            fresh = replace(row, outbox_id=9, attempt=2)  # claimed again, but nothing of it had gone out
            await channel.send(fresh)
            assert [bool(m.get("files")) for m in slack.posted(ENERGY)[-2:]] == [False, True]
        finally:
            await channel.close()


async def test_a_slack_app_without_files_write_links_the_file_instead(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    specs = Attachment("document", "w1", "pump specs.pdf", len(SPECS), "application/pdf", "web",
                       "https://desk.example/files/w1", store.put(SPECS))
    async with FakeSlack() as slack:
        slack.add_channel(ENERGY, "energy-experts")
        slack.inject("files.getUploadURLExternal", status=200, error="missing_scope", times=2)
        channel = SlackChannel(slack.bot_token, slack.api_url, files=store)
        try:
            row = OutgoingMessage(8, "slack", ENERGY, "Our pump specifications", attachments=(specs,))
            await channel.send(row)
            text, note = slack.posted(ENERGY)
            assert text["text"] == "Our pump specifications" and not note.get("files")
            assert note["text"] == "📎 pump specs.pdf (1 KB) https://desk.example/files/w1"
            await channel.send(replace(row, attempt=2))  # a retry finds both posts by their metadata
            assert len(slack.posted(ENERGY)) == 2
        finally:
            await channel.close()
