"""The Slack adapter against the fake Slack (Web API, Socket Mode, signed HTTP events), the real help desk behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, insert, select

from bot.app import HelpDesk
from bot.channels.slack import MAX_POST_CHARS, SlackChannel, outbox_metadata
from bot.channels.slack_blocks import message_payload
from bot.channels.text import split_text
from bot.core.messages import OutgoingMessage
from bot.core.outbox import RetryLater
from bot.db.models import Message, Outbox, table
from bot.http import HttpServer, create_http_app
from bot.settings import Settings
from tests.channels_support import ENERGY_QUESTION, started_channel, write_config
from tests.fakes.desk_process import free_port
from tests.fakes.slack import DEFAULT_SIGNING_SECRET, FakeSlack

pytestmark = pytest.mark.timeout(20)
ALICE, AMINA, SAM = "U0ALICE", "U0AMINA", "U0SAM"
ENERGY, SECRETARIAT = "C0ENERGY", "C0SECRET"
FAQ_QUESTION = "What does a Biennial Transparency Report contain?"
O = table(Outbox)  # noqa: E741


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(ack_timeout=2.0) as fake:
        fake.add_user(ALICE, name="alice", real_name="Alice Mwangi", locale="en-US")
        fake.add_user(AMINA, name="amina", real_name="Amina K.")
        fake.add_user(SAM, name="sam", real_name="Sam Secretariat")
        fake.add_channel(ENERGY, "energy-experts")
        fake.add_channel(SECRETARIAT, "helpdesk-secretariat")
        yield fake


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path / "helpdesk.toml", energy_spaces=[("slack", ENERGY)],
                        secretariat_spaces=[("slack", SECRETARIAT)], energy_experts=["amina"])


@contextlib.asynccontextmanager
async def slack_desk(settings: Settings, config_path: Path, slack: FakeSlack,
                     **options: Any) -> AsyncIterator[tuple[HelpDesk, SlackChannel]]:
    channel = SlackChannel(slack.bot_token, slack.api_url, home_delay=0.05, **options)
    async with started_channel(settings, config_path, "slack", channel, [("amina", "expert", AMINA)]) as app:
        yield app, channel


@pytest.fixture
async def socket_desk(sqlite_settings: Settings, config_path: Path,
                      slack: FakeSlack) -> AsyncIterator[tuple[HelpDesk, SlackChannel]]:
    async with slack_desk(sqlite_settings, config_path, slack, app_token=slack.app_token) as pair:
        await slack.wait_connected()
        yield pair


def plain(message: dict[str, Any]) -> str:
    """What a person reads: the plain-text sections of a post."""
    return "\n".join(b["text"]["text"] for b in message.get("blocks", []) if b["type"] == "section")


async def wait_post(slack: FakeSlack, channel: str, fragment: str, timeout: float = 8.0) -> dict[str, Any]:
    await slack.wait_for(lambda: any(fragment in plain(m) for m in slack.posted(channel)), timeout)
    return next(m for m in reversed(slack.posted(channel)) if fragment in plain(m))


def action_ids(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]


async def test_dm_question_card_claim_and_answer_in_the_cards_thread(socket_desk: tuple[HelpDesk, SlackChannel],
                                                                    slack: FakeSlack) -> None:
    dm = slack.dm_channel(ALICE)
    await slack.user_says(FAQ_QUESTION, user=ALICE)
    answer = await wait_post(slack, dm, "Source:")
    assert [a.split("_", 2)[2] for a in action_ids(answer)] == ["helped", "expert"]

    await slack.user_says(ENERGY_QUESTION, user=ALICE)
    card = await wait_post(slack, ENERGY, "Ticket #1")
    assert "Alice Mwangi" in plain(card)  # the name comes from users.info
    assert action_ids(card) == ["hd_0_claim", "hd_1_xfer", "hd_2_notours"]
    click = await slack.user_clicks("hd_0_claim", user=AMINA, channel=ENERGY)
    await click.wait_acked()
    await wait_post(slack, slack.dm_channel(AMINA), "Ticket #1 is yours")
    await slack.wait_for(lambda: "claimed by Amina" in plain(slack.message(ENERGY, card["ts"]) or {}))
    assert action_ids(slack.message(ENERGY, card["ts"]) or {}) == []  # the buttons are gone

    await slack.user_says("// check the 2019 grid code first", user=AMINA, channel=ENERGY, thread_ts=card["ts"])
    note = await wait_post(slack, ENERGY, "Internal note on #1")
    assert note["thread_ts"] == card["ts"]  # the ticket's talk is a thread under its card
    await slack.user_says("Cap curtailment pay at 5% & index it <yearly>.", user=AMINA, channel=ENERGY,
                          thread_ts=card["ts"])
    relayed = await wait_post(slack, dm, "Ticket #1 — Amina")
    assert plain(relayed).endswith("Cap curtailment pay at 5% & index it <yearly>.")
    assert not any("2019 grid code" in plain(m) for m in slack.posted(dm))  # notes never reach the practitioner


async def test_mentions_are_answered_in_a_thread_and_chatter_is_not_read(socket_desk: tuple[HelpDesk, SlackChannel],
                                                                        slack: FakeSlack) -> None:
    app, _ = socket_desk
    mention = await slack.user_mentions(FAQ_QUESTION, user=ALICE, channel="C0GENERAL")
    await mention.wait_acked()
    reply = await wait_post(slack, "C0GENERAL", "Source:")
    assert reply["thread_ts"] == mention.payload["event"]["ts"]
    follow_up = "And which sectors must a BTR cover?"
    await (await slack.user_says(follow_up, user=ALICE, channel="C0GENERAL",
                                 thread_ts=reply["thread_ts"])).wait_acked()  # no mention needed in its thread
    chatter = await slack.user_says("lunch at noon?", user=SAM, channel="C0GENERAL")
    await chatter.wait_acked()
    aside = await slack.user_says("12:30?", user=SAM, channel="C0GENERAL", thread_ts=chatter.payload["event"]["ts"])
    await aside.wait_acked()
    async with app.engine.connect() as conn:
        texts = [r.text for r in await conn.execute(select(table(Message).c.text))]
    assert texts == [FAQ_QUESTION, follow_up]  # the bot's thread is read; other talk is not


async def test_http_events_are_verified_and_retries_have_no_second_effect(
        sqlite_settings: Settings, config_path: Path, slack: FakeSlack) -> None:
    port = free_port()
    async with slack_desk(sqlite_settings, config_path, slack, signing_secret=DEFAULT_SIGNING_SECRET) as (app, _):
        server = HttpServer(create_http_app(app), "127.0.0.1", port)
        await server.start()
        try:
            slack.configure_http(f"http://127.0.0.1:{port}/slack/events", DEFAULT_SIGNING_SECRET)
            assert (await slack.verify_url()).ok
            delivery = await slack.user_says(FAQ_QUESTION, user=ALICE)
            assert delivery.attempts == [200]
            dm = slack.dm_channel(ALICE)
            await wait_post(slack, dm, "Source:")
            body = json.dumps(delivery.payload).encode()
            retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
            assert await slack.post_signed(body, extra_headers=retry) == 200  # acknowledged …
            assert await slack.replay_last(tamper_signature=True) == 401
            assert await slack.post_signed(body, timestamp=int(time.time()) - 600) == 401  # stale
            assert await slack.post_signed(body, signing_secret="not-the-secret") == 401
            other = await slack.user_says("hello", user=SAM)
            await wait_post(slack, slack.dm_channel(SAM), "Hello")
            assert other.attempts == [200]
            async with app.engine.connect() as conn:
                count = (await conn.execute(select(func.count()).select_from(table(Message)))).scalar_one()
            assert count == 2  # … but stored once
            assert len([m for m in slack.posted(dm) if "Source:" in plain(m)]) == 1  # and answered once
        finally:
            await server.stop()


async def test_rate_limits_and_outages_delay_posts_without_losing_or_doubling(
        socket_desk: tuple[HelpDesk, SlackChannel], slack: FakeSlack) -> None:
    _, channel = socket_desk
    slack.inject("chat.postMessage", status=429, retry_after=12)
    with pytest.raises(RetryLater) as caught:
        await channel.send(OutgoingMessage(1, "slack", slack.dm_channel(ALICE), "hi"))
    assert caught.value.seconds == 12
    users = [f"U0P{n}" for n in range(6)]
    for user in users:
        slack.add_user(user)
    slack.inject("chat.postMessage", status=429, retry_after=1, times=3)
    slack.inject("chat.postMessage", status=503, times=2)
    for user in users:
        await slack.user_says(FAQ_QUESTION, user=user)
    for user in users:
        await wait_post(slack, slack.dm_channel(user), "Source:", timeout=12)
    for user in users:
        assert len([m for m in slack.posted(slack.dm_channel(user)) if "Source:" in plain(m)]) == 1


async def test_app_home_shows_questions_queue_and_claims_and_follows_changes(
        socket_desk: tuple[HelpDesk, SlackChannel], slack: FakeSlack) -> None:
    def home(user: str) -> str:
        view = slack.home_view(user) or {}
        return json.dumps(view.get("blocks", []), ensure_ascii=False)

    await (await slack.user_opens_home(user=ALICE)).wait_acked()
    assert "Write to me in the Messages tab" in home(ALICE)  # the bot has not met her yet
    await (await slack.user_opens_home(user=AMINA)).wait_acked()
    await slack.user_says(ENERGY_QUESTION, user=ALICE)
    await slack.wait_for(lambda: "#1" in home(ALICE) and "#1" in home(AMINA))
    assert "Your open questions" in home(ALICE) and "Nothing here" in home(AMINA)  # Amina holds nothing yet
    assert "Waiting for an expert in your queues" in home(AMINA) and "next due" in home(AMINA)
    await slack.user_clicks("hd_0_claim", user=AMINA, channel=ENERGY)
    await slack.wait_for(lambda: "an expert is on it" in home(ALICE))
    await slack.wait_for(lambda: "#1" in home(AMINA).split("Waiting for an expert")[0])  # under "Your tickets"


async def test_slash_command_edits_and_the_app_removed_from_a_channel(socket_desk: tuple[HelpDesk, SlackChannel],
                                                                      slack: FakeSlack) -> None:
    command = await slack.user_runs_command("/helpdesk", "link", user=ALICE)
    await command.wait_acked()
    code = await wait_post(slack, slack.dm_channel(ALICE), "linking code")
    assert "/link " in plain(code)
    edit = {"type": "message", "subtype": "message_changed", "channel": slack.dm_channel(ALICE),
            "channel_type": "im", "event_ts": "1.5", "message": {"user": ALICE, "text": "fixed", "ts": "1.1"},
            "previous_message": {"user": ALICE, "text": "fixd", "ts": "1.1"}}
    await (await slack.send_event(edit)).wait_acked()
    await wait_post(slack, slack.dm_channel(ALICE), "Edits are not passed on")
    await (await slack.send_event({"type": "channel_left", "channel": ENERGY, "actor_id": SAM})).wait_acked()
    report = await wait_post(slack, SECRETARIAT, "was removed")
    assert "ENERGY" in plain(report) and "Sam Secretariat" in plain(report)


async def crashed_delivery(slack: FakeSlack, message: OutgoingMessage) -> None:
    """What a replica killed right after chat.postMessage left behind: the post, and no record of it."""
    crashed = SlackChannel(slack.bot_token, slack.api_url)
    try:
        await crashed.send(message)
    finally:
        await crashed.close()


async def test_a_row_posted_before_a_crash_is_recorded_not_posted_again(socket_desk: tuple[HelpDesk, SlackChannel],
                                                                       slack: FakeSlack) -> None:
    app, _ = socket_desk
    assert app.drainer is not None
    now = app.clock.now()
    rows = {"delivered": "Your question is ticket #4 in the ENERGY queue.", "lost": "Thanks, noted."}
    ids: dict[str, int] = {}
    async with app.engine.begin() as conn:  # both claimed by a replica that was then killed; leases ran out
        for key, text in rows.items():
            ids[key] = (await conn.execute(insert(O).values(
                channel="slack", chat_id=ALICE, kind="send", text=text, status="sending", attempts=1,
                next_attempt_at=now, lease_until=now - timedelta(seconds=1), created_at=now).returning(O.c.id)
            )).scalar_one()
    await crashed_delivery(slack, OutgoingMessage(ids["delivered"], "slack", ALICE, rows["delivered"], created_at=now))
    app.drainer.wake()
    dm = slack.dm_channel(ALICE)
    await wait_post(slack, dm, rows["lost"])
    for _ in range(100):  # the drainer records deliveries every 20 ms
        async with app.engine.connect() as conn:
            recorded = {r.id: (r.status, r.external_id) for r in await conn.execute(select(O.c.id, O.c.status,
                                                                                         O.c.external_id))}
        if {status for status, _ in recorded.values()} == {"sent"}:
            break
        await asyncio.sleep(0.05)
    posted = {plain(m): m["ts"] for m in slack.posted(dm)}
    assert len(slack.posted(dm)) == 2  # the delivered row was found by its metadata, not posted again
    assert recorded[ids["delivered"]] == ("sent", f"{dm}/{posted[rows['delivered']]}")
    assert recorded[ids["lost"]] == ("sent", f"{dm}/{posted[rows['lost']]}")


async def test_a_retried_row_posts_only_the_parts_and_thread_replies_not_found(
        socket_desk: tuple[HelpDesk, SlackChannel], slack: FakeSlack) -> None:
    _, channel = socket_desk
    long_text = "\n\n".join(f"Paragraph {n}: " + "grid code " * 150 for n in range(12))
    first, second = [p for p in split_text(long_text, MAX_POST_CHARS) if p.strip()]
    dm = slack.dm_channel(ALICE)
    web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    earlier = await web.chat_postMessage(channel=dm, metadata=outbox_metadata(41, 0), **message_payload(first))
    posted_id = await channel.send(OutgoingMessage(41, "slack", dm, long_text, attempt=2))
    assert posted_id == f"{dm}/{earlier['ts']}"
    before, after = slack.posted(dm)  # the killed attempt's part is not repeated; the rest follows it
    assert before["ts"] == earlier["ts"] and plain(after).startswith(second.split(":")[0])

    card = await web.chat_postMessage(channel=ENERGY, text="Ticket #5")
    note = await web.chat_postMessage(channel=ENERGY, thread_ts=card["ts"], metadata=outbox_metadata(42, 0),
                                      **message_payload("Internal note on #5"))
    again = OutgoingMessage(42, "slack", ENERGY, "Internal note on #5", thread_external_id=f"{ENERGY}/{card['ts']}",
                            attempt=2)
    assert await channel.send(again) == f"{ENERGY}/{note['ts']}"
    assert len(slack.posted(ENERGY)) == 2
    assert [c.params["channel"] for c in slack.calls("conversations.replies")] == [ENERGY]
