"""The Telegram adapter against the fake Bot API, with the real help desk behind it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from bot.app import HelpDesk
from bot.channels.pacing import Budget, Pacer
from bot.channels.telegram import GROUP_BUDGET, PRIVATE_BUDGET, TelegramChannel
from bot.config import ConfigError
from bot.core.messages import Button, IncomingMessage, OutgoingMessage
from bot.core.pipeline import Outcome
from bot.db.models import Message, Person, QueueSpace, table
from bot.http import HttpServer, create_http_app
from bot.settings import Settings
from tests.channels_support import ENERGY_QUESTION, running_desk, started_channel, write_config
from tests.fakes.desk_process import free_port
from tests.fakes.telegram import FakeTelegram, RateLimits

pytestmark = pytest.mark.timeout(20)
GROUP, SECRETARIAT, ALICE, OMAR, SAM = -100500, -100900, 111, 222, 333
FAQ_QUESTION = "What does a Biennial Transparency Report contain?"


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(rate_limits=None) as fake:
        for chat in (ALICE, OMAR, SAM):
            fake.add_chat(chat)
        fake.add_chat(GROUP, "supergroup", title="Energy experts")
        fake.add_chat(SECRETARIAT, "group", title="Secretariat")
        yield fake


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path / "helpdesk.toml", energy_spaces=[("telegram", str(GROUP))],
                        secretariat_spaces=[("telegram", str(SECRETARIAT))], energy_experts=["omar"])


@contextlib.asynccontextmanager
async def telegram_desk(settings: Settings, config_path: Path, tg: FakeTelegram,
                        **options: Any) -> AsyncIterator[tuple[HelpDesk, TelegramChannel]]:
    channel = TelegramChannel(tg.token, tg.api_url, poll_timeout=5, **options)
    people = [("omar", "expert", str(OMAR)), ("sam", "secretariat", str(SAM))]
    async with started_channel(settings, config_path, "telegram", channel, people) as app:
        yield app, channel


@pytest.fixture
async def desk(sqlite_settings: Settings, config_path: Path,
               tg: FakeTelegram) -> AsyncIterator[tuple[HelpDesk, TelegramChannel]]:
    async with telegram_desk(sqlite_settings, config_path, tg) as pair:
        yield pair


def texts(tg: FakeTelegram, chat: int) -> list[str]:
    return [m.get("text", m.get("caption", "")) for m in tg.sent(chat)]


async def wait_text(tg: FakeTelegram, chat: int, fragment: str, timeout: float = 8.0) -> dict[str, Any]:
    """The newest message to `chat` containing `fragment` (waiting for it)."""
    await tg.wait_for(lambda: any(fragment in t for t in texts(tg, chat)), timeout)
    return next(m for m in reversed(tg.sent(chat)) if fragment in m.get("text", ""))


def button_data(message: dict[str, Any], label: str) -> str:
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if label.lower() in button["text"].lower():
                return str(button["callback_data"])
    raise AssertionError(f"no button {label!r}")


async def test_question_becomes_a_ticket_claimed_and_answered_from_the_expert_group(
        desk: tuple[HelpDesk, TelegramChannel], tg: FakeTelegram) -> None:
    tg.user_sends(ALICE, FAQ_QUESTION)
    answer = await wait_text(tg, ALICE, "Source:")
    assert button_data(answer, "helped").startswith("helped:")  # signed data, passed through unchanged

    tg.user_sends(ALICE, ENERGY_QUESTION)
    await wait_text(tg, ALICE, "ticket #1")
    card = await wait_text(tg, GROUP, "Ticket #1")
    tg.user_presses(GROUP, card["message_id"], button_data(card, "Claim"), user=OMAR)
    await wait_text(tg, OMAR, "Ticket #1 is yours")
    await tg.wait_for(lambda: "claimed by Omar" in (tg.message(GROUP, card["message_id"]) or {}).get("text", ""))
    assert "reply_markup" not in tg.message(GROUP, card["message_id"])  # type: ignore[operator]
    assert len(tg.callback_answers) == 1  # the button did not spin

    answer_text = 'Use a <b>feed-in</b> premium & a "cap" > 5% of output; see *art. 4* [draft]'
    tg.user_sends(GROUP, answer_text, user=OMAR, chat_type="supergroup", reply_to=card["message_id"])
    relayed = await wait_text(tg, ALICE, "Ticket #1 — Omar")
    assert relayed["text"].endswith(answer_text)  # HTML escaped on the way, shown exactly as typed

    tg.user_sends(ALICE, "Thanks! Does it also apply to solar?")
    await wait_text(tg, OMAR, "Does it also apply to solar?")  # a claimed ticket's talk goes to its expert
    assert not any("also apply" in t for t in texts(tg, GROUP))


async def test_the_offset_moves_only_after_the_update_is_stored(sqlite_settings: Settings, config_path: Path,
                                                               tg: FakeTelegram) -> None:
    entered, gate = asyncio.Event(), asyncio.Event()

    @dataclass
    class GatedDesk:
        app: HelpDesk

        def __getattr__(self, name: str) -> Any:
            return getattr(self.app, name)

        async def submit(self, msg: IncomingMessage) -> Outcome:
            entered.set()
            await gate.wait()
            return await self.app.submit(msg)

    channel = TelegramChannel(tg.token, tg.api_url, poll_timeout=1)
    async with running_desk(sqlite_settings, config_path, {"telegram": channel}) as app:
        await channel.start(GatedDesk(app))  # type: ignore[arg-type]
        sent = tg.user_sends(ALICE, "hello, my first message")
        await asyncio.wait_for(entered.wait(), 5)  # the adapter has the update; it is not stored yet
        assert [u["update_id"] for u in tg.pending_updates] == [sent["update_id"]]
        gate.set()
        await tg.wait_for(lambda: not tg.pending_updates)
        async with app.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(table(Message)))).scalar_one() == 1
        await channel.stop()
    await channel.close()


async def test_webhook_checks_the_secret_and_answers_5xx_while_the_database_fails(
        sqlite_settings: Settings, config_path: Path, tg: FakeTelegram) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    async with telegram_desk(sqlite_settings, config_path, tg, webhook_url=url, webhook_secret="s3cret") as (app, _):
        server = HttpServer(create_http_app(app), "127.0.0.1", port)
        await server.start()
        try:
            assert tg.webhook_url == url
            update = {"update_id": 1, "message": {"message_id": 1, "date": 1, "text": "forged",
                                                  "chat": {"id": ALICE, "type": "private"},
                                                  "from": {"id": ALICE, "is_bot": False, "first_name": "M"}}}
            async with httpx.AsyncClient() as client:
                missing = await client.post(url, json=update)
                wrong = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
            assert (missing.status_code, wrong.status_code) == (403, 403)

            tg.user_sends(ALICE, FAQ_QUESTION)
            (delivery,) = await tg.deliver_via_webhook()
            assert delivery.attempts == [200]
            await wait_text(tg, ALICE, "Source:")
            async with app.engine.connect() as conn:
                stored = [r.text for r in await conn.execute(select(table(Message).c.text))]
            assert stored == [FAQ_QUESTION]  # the forged updates were not processed

            async with app.engine.begin() as conn:  # the database breaks
                await conn.execute(text("ALTER TABLE message RENAME TO message_gone"))
            tg.user_sends(ALICE, "are you there?")
            (failed,) = await tg.deliver_via_webhook(max_attempts=2)
            assert failed.attempts == [503, 503] and len(tg.pending_updates) == 1  # Telegram keeps it
            async with app.engine.begin() as conn:
                await conn.execute(text("ALTER TABLE message_gone RENAME TO message"))
            (retried,) = await tg.deliver_via_webhook()
            assert retried.attempts == [200]
        finally:
            await server.stop()


async def test_long_answers_are_split_at_paragraphs_with_buttons_on_the_last_part(
        desk: tuple[HelpDesk, TelegramChannel], tg: FakeTelegram) -> None:
    _, channel = desk
    paragraph = "Feed-in premiums <b>reward</b> output & keep market signals. " * 40
    long = f"{paragraph.strip()}\n\n{paragraph.strip()}"
    assert 4096 < len(long) < 6000
    posted = await channel.send(OutgoingMessage(1, "telegram", str(ALICE), long, (Button("Rate", "rate:1:5:s"),)))
    first, second = tg.sent(ALICE)
    assert posted == f"{ALICE}/{first['message_id']}"
    assert (first["text"], second["text"]) == (paragraph.strip(), paragraph.strip())
    assert "reply_markup" not in first and second["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == (
        "rate:1:5:s")


async def test_429_storm_and_5xx_lose_nothing_and_double_nothing(desk: tuple[HelpDesk, TelegramChannel],
                                                                tg: FakeTelegram, caplog: pytest.LogCaptureFixture,
                                                                ) -> None:
    chats = list(range(5001, 5011))
    for chat in chats:
        tg.add_chat(chat)
    tg.inject("sendMessage", status=429, retry_after=1, times=4)
    tg.inject("sendMessage", status=502, times=2)
    tg.inject("sendMessage", status=500, times=2)
    for chat in chats:
        tg.user_sends(chat, FAQ_QUESTION)
    await tg.wait_for(lambda: all(any("Source:" in t for t in texts(tg, c)) for c in chats), timeout=15)
    failures = [c.status for c in tg.calls("sendMessage") if c.status != 200]
    assert sorted(set(failures)) == [429, 500, 502]
    for chat in chats:
        answers = [t for t in texts(tg, chat) if "Source:" in t]
        assert len(answers) == 1, f"chat {chat}: {answers}"
    faults = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in faults if r.exc_info], "a recoverable fault logged a traceback"
    waits = [r.getMessage() for r in faults if "wait" in r.getMessage()]
    assert len(waits) == 8 and any("Bad Gateway (502); it and the chat's later rows wait" in m for m in waits)
    assert not any("<html>" in r.getMessage() for r in caplog.records)


async def test_blocked_user_is_marked_unreachable_and_reported_once(desk: tuple[HelpDesk, TelegramChannel],
                                                                   tg: FakeTelegram) -> None:
    app, _ = desk
    tg.block(ALICE)
    tg.user_sends(ALICE, FAQ_QUESTION, user={"id": ALICE, "first_name": "Alice", "last_name": "Blocked"})
    report = await wait_text(tg, SECRETARIAT, "cannot be delivered")
    assert "Alice Blocked" in report["text"]
    async with app.engine.connect() as conn:
        when = (await conn.execute(select(table(Person).c.unreachable_at)
                                   .where(table(Person).c.display_name == "Alice Blocked"))).scalar_one()
    assert when is not None
    tg.user_sends(ALICE, "hello?")
    await tg.wait_for(lambda: len([c for c in tg.calls("sendMessage") if c.status == 403]) >= 3)
    assert len([t for t in texts(tg, SECRETARIAT) if "cannot be delivered" in t]) == 1


async def test_unsupported_types_edits_and_files(desk: tuple[HelpDesk, TelegramChannel], tg: FakeTelegram) -> None:
    tg.user_sends_content(ALICE, {"sticker": {"file_id": "s1", "file_unique_id": "s1", "width": 1, "height": 1,
                                              "is_animated": False, "is_video": False, "type": "regular"}})
    await wait_text(tg, ALICE, "I can only read text and files")
    tg.user_sends_content(ALICE, {"location": {"latitude": -1.29, "longitude": 36.82}})
    await tg.wait_for(lambda: len([t for t in texts(tg, ALICE) if "only read text" in t]) == 2)
    asked = tg.user_sends(ALICE, ENERGY_QUESTION)
    await wait_text(tg, ALICE, "ticket #1")
    tg.user_edits(ALICE, asked["message"]["message_id"], ENERGY_QUESTION + " (edited)")
    await wait_text(tg, ALICE, "Edits are not passed on")
    huge = {"file_id": "BQAC-huge", "file_unique_id": "h", "file_name": "model.xlsx", "file_size": 30_000_000}
    tg.user_sends_content(ALICE, {"document": huge, "caption": "our grid model"})
    await wait_text(tg, ALICE, "larger than 20 MB")
    tg.user_sends_photo(ALICE, caption="the wind site map")
    await wait_text(tg, ALICE, "Added to ticket #1")
    await tg.wait_for(lambda: any("photo" in m for m in tg.sent(GROUP)))  # relayed by file id to the queue
    assert any("the wind site map" in t for t in texts(tg, GROUP))


async def test_forged_and_foreign_buttons_get_a_toast_and_change_nothing(desk: tuple[HelpDesk, TelegramChannel],
                                                                        tg: FakeTelegram) -> None:
    tg.user_sends(ALICE, ENERGY_QUESTION)
    card = await wait_text(tg, GROUP, "Ticket #1")
    mine = await wait_text(tg, ALICE, "ticket #1")
    claim = button_data(card, "Claim")
    forged = claim[:-1] + ("A" if claim[-1] != "A" else "B")
    tg.user_presses(GROUP, card["message_id"], forged, user=OMAR)
    await tg.wait_for(lambda: len(tg.callback_answers) == 1)
    assert "no longer valid" in (tg.callback_answers[0]["text"] or "")
    offer = next(m for m in tg.sent(ALICE) if "reply_markup" in m and m is not mine)
    tg.user_presses(ALICE, offer["message_id"], claim, user=ALICE)  # a practitioner replays the card's data
    await tg.wait_for(lambda: len(tg.callback_answers) == 2)
    assert "not allowed" in (tg.callback_answers[1]["text"] or "")
    assert "unclaimed" in (tg.message(GROUP, card["message_id"]) or {})["text"]


async def test_linked_group_and_the_bot_removed_from_it(desk: tuple[HelpDesk, TelegramChannel],
                                                        tg: FakeTelegram) -> None:
    app, _ = desk
    tg.user_sends(ALICE, ENERGY_QUESTION)
    card = await wait_text(tg, GROUP, "Ticket #1")
    extra = -100777
    tg.add_chat(extra, "supergroup", title="Energy B")
    tg.user_sends(extra, "/linkqueue energy", user=OMAR, chat_type="supergroup")
    await wait_text(tg, extra, "not allowed")  # experts may not; the secretariat may
    tg.user_sends(extra, "/linkqueue@helpdesk_test_bot energy", user=SAM, chat_type="supergroup")
    await wait_text(tg, extra, "tickets of the ENERGY queue")
    tg.user_sends(ALICE, "The province is Turkana, if that matters.")
    in_group = await wait_text(tg, GROUP, "Turkana")
    assert in_group["reply_to_message"]["message_id"] == card["message_id"]  # the ticket's thread: its card
    in_extra = await wait_text(tg, extra, "Turkana")  # linked after the card: a plain post, not a failure
    assert "reply_to_message" not in in_extra
    tg.bot_member_status(extra, "kicked", by=SAM)
    report = await wait_text(tg, SECRETARIAT, "was removed")
    assert "Energy B" in report["text"] and "ENERGY" in report["text"] and "by Sam." in report["text"]
    async with app.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(table(QueueSpace)))).scalar_one() == 0


async def test_command_menus_per_language_and_scope(desk: tuple[HelpDesk, TelegramChannel],
                                                    tg: FakeTelegram) -> None:
    private_es = {c["command"]: c["description"] for c in tg.commands({"type": "all_private_chats"}, "es")}
    groups_fr = {c["command"] for c in tg.commands({"type": "all_group_chats"}, "fr")}
    default = {c["command"] for c in tg.commands({"type": "all_private_chats"})}
    assert private_es["mytickets"] == "sus preguntas abiertas" and "link" in private_es
    assert "claim" not in private_es and {"claim", "resolve", "linkqueue"} <= groups_fr
    assert default == set(private_es)


async def test_a_backed_up_group_gets_one_post_per_ticket_not_a_growing_queue(
        sqlite_settings: Settings, config_path: Path) -> None:
    async with FakeTelegram(rate_limits=RateLimits(group_per_minute=120)) as tg:
        tg.add_chat(ALICE)
        tg.add_chat(GROUP, "supergroup", title="Energy experts")
        tg.add_chat(SECRETARIAT, "group")
        async with telegram_desk(sqlite_settings, config_path, tg) as (_, channel):
            channel.pacer = Pacer(PRIVATE_BUDGET, Budget(burst=2, per_second=GROUP_BUDGET.per_second * 6),
                                  Budget(30, 30))  # a group allowed 2 posts, then one every 0.5 s
            tg.user_sends(ALICE, ENERGY_QUESTION)
            await wait_text(tg, GROUP, "Ticket #1")
            notes = [f"detail number {n}" for n in range(1, 8)]
            for note in notes:
                tg.user_sends(ALICE, note)
            await tg.wait_for(lambda: all(any(n in t for t in texts(tg, GROUP)) for n in notes), timeout=10)
            group_texts = texts(tg, GROUP)
            assert all(sum(n in t for t in group_texts) == 1 for n in notes)  # each once
            joined = "\n".join(group_texts)
            assert [joined.index(n) for n in notes] == sorted(joined.index(n) for n in notes)  # in order
            assert len(group_texts) < 1 + len(notes)  # merged: fewer posts than messages
            assert not [c for c in tg.calls("sendMessage") if c.status == 429]  # paced, not throttled


async def test_a_rejected_token_is_one_clear_error(sqlite_settings: Settings, config_path: Path,
                                                   tg: FakeTelegram) -> None:
    channel = TelegramChannel("987654321:NotTheTokenTheServerKnows", tg.api_url)
    async with running_desk(sqlite_settings, config_path, {"telegram": channel}) as app:
        with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN: the token was rejected") as caught:
            await channel.start(app)
        assert "NotTheToken" not in str(caught.value)
    await channel.close()


async def test_reply_language_numbers_and_out_of_scope_through_telegram(
        desk: tuple[HelpDesk, TelegramChannel], tg: FakeTelegram) -> None:
    tg.user_sends(ALICE, "¿Qué implica actualizar una NDC?")  # her Telegram app is in English
    answer = await wait_text(tg, ALICE, "Fuente:")
    assert button_data(answer, "Me sirvió").startswith("helped:")
    tg.user_sends(ALICE, "4")
    await wait_text(tg, ALICE, "Un número solo no es una pregunta")
    tg.user_sends(ALICE, "Que contient un rapport biennal de transparence ?")
    await wait_text(tg, ALICE, "Source :")
    tg.user_sends(ALICE, "How do I bake bread?")
    offer = await wait_text(tg, ALICE, "does not look like one of the topics")
    tg.user_presses(ALICE, offer["message_id"], button_data(offer, "Drop it"))
    await wait_text(tg, ALICE, "I have dropped it")
    assert not any("ticket #" in text for text in texts(tg, ALICE))
