"""The fake Telegram and Slack servers work with the unmodified python-telegram-bot, slack-sdk and bolt."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
import uvicorn
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from tests.fakes.slack import DEFAULT_SIGNING_SECRET, DEFAULT_USER, FakeSlack
from tests.fakes.telegram import FakeTelegram, RateLimits, parse_html

pytestmark = pytest.mark.timeout(10)

CHAT = 4242
GROUP = -100777


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def seconds(value: float | dtm.timedelta) -> float:
    """PTB 22 reports retry_after as a number or a timedelta depending on PTB_TIMEDELTA."""
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's future timedelta durations (avoids its deprecation warning)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(rate_limits=None) as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.api_url, base_file_url=tg.file_url) as client:
        yield client


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def web_client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


@contextlib.asynccontextmanager
async def serve_aiohttp(handler: Any, path: str = "/hook") -> AsyncIterator[str]:
    """Run a one-route aiohttp app on a free port; yield its URL."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app, shutdown_timeout=1.0, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}{path}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """Run an ASGI app under uvicorn on a free port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = asyncio.get_running_loop().time() + 5
        while not server.started:
            assert asyncio.get_running_loop().time() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


# ------------------------------------------------------------------------------------- Telegram


async def test_bot_receives_message_and_replies(tg: FakeTelegram, bot: Bot) -> None:
    sent = tg.user_sends(CHAT, "/start hello")

    updates = await bot.get_updates(timeout=1)
    assert [u.update_id for u in updates] == [sent["update_id"]]
    message = updates[0].message
    assert message is not None and message.text == "/start hello"
    assert message.from_user is not None and message.from_user.id == CHAT
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 6

    reply = await message.reply_text("Welcome!")
    assert reply.chat_id == CHAT and reply.message_id == message.message_id + 1
    assert [m["text"] for m in tg.sent(CHAT)] == ["Welcome!"]


async def test_offsets_confirm_updates(tg: FakeTelegram, bot: Bot) -> None:
    first = tg.user_sends(CHAT, "one")["update_id"]
    tg.user_sends(CHAT, "two")
    tg.user_sends(CHAT, "three")

    assert len(await bot.get_updates(limit=2)) == 2
    assert len(await bot.get_updates()) == 3  # nothing confirmed without an offset
    assert [u.message.text for u in await bot.get_updates(offset=first + 1) if u.message] == ["two", "three"]
    assert len(tg.pending_updates) == 2
    assert [u.message.text for u in await bot.get_updates(offset=-1) if u.message] == ["three"]
    assert await bot.get_updates(offset=first + 3) == ()
    assert tg.pending_updates == []


async def test_long_poll_wakes_on_new_update_and_filters_allowed_updates(tg: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5, allowed_updates=["callback_query"]))
    await tg.wait_for(lambda: tg.waiting_polls == 1)
    tg.user_sends(CHAT, "ignored: not an allowed update type")
    reply = await bot.send_message(
        CHAT, "Pick", reply_markup=InlineKeyboardMarkup.from_button(InlineKeyboardButton("A", callback_data="a"))
    )
    tg.user_presses(CHAT, reply.message_id, "a")
    updates = await asyncio.wait_for(poll, 3)
    assert [u.callback_query.data for u in updates if u.callback_query] == ["a"]
    assert all(u.message is None for u in updates)


async def test_application_polling_handles_message_and_button(tg: FakeTelegram) -> None:
    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("FAQ", callback_data="faq:1")]])
        await update.message.reply_text(f"You said {update.message.text}", reply_markup=keyboard)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Opening FAQ")
        await query.edit_message_text(f"Chosen: {query.data}")

    app = ApplicationBuilder().token(tg.token).base_url(tg.api_url).build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(CallbackQueryHandler(on_button))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        tg.user_sends(CHAT, "how do I report?")
        (reply,) = await tg.wait_sent(CHAT)
        assert reply["text"] == "You said how do I report?"
        assert reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "faq:1"

        tg.user_presses(CHAT, reply["message_id"], "faq:1")
        await tg.wait_for(lambda: bool(tg.edits(CHAT)))
        assert tg.callback_answers[0]["text"] == "Opening FAQ"
        assert tg.edits(CHAT)[0]["text"] == "Chosen: faq:1"
        assert "reply_markup" not in tg.message(CHAT, reply["message_id"])  # type: ignore[operator]
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    await tg.wait_for(lambda: not tg.pending_updates)  # PTB confirmed everything on stop
    assert [call.method for call in tg.calls()][:2] == ["getMe", "deleteWebhook"]


async def test_injected_429_raises_retry_after_and_is_not_logged_as_sent(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(CHAT)
    tg.inject(method="sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "hi")
    assert seconds(caught.value.retry_after) == 7
    assert tg.calls("sendMessage")[0].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    await bot.send_message(CHAT, "hi")
    assert len(tg.sent(CHAT)) == 1


async def test_flood_limits_per_private_chat_group_and_recovery() -> None:
    clock = FakeClock()
    limits = RateLimits(private_per_second=1.0, private_burst=3, group_per_minute=20, global_per_second=30)
    async with FakeTelegram(rate_limits=limits, clock=clock) as tg, Bot(tg.token, base_url=tg.api_url) as bot:
        tg.add_chat(CHAT)
        tg.add_chat(GROUP, "group")
        for _ in range(3):
            await bot.send_message(CHAT, "burst")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(CHAT, "one too many")
        assert seconds(caught.value.retry_after) == 1
        clock.now += 1.0
        await bot.send_message(CHAT, "after waiting")

        for _ in range(20):
            await bot.send_message(GROUP, "group burst")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(GROUP, "21st in a minute")
        assert seconds(caught.value.retry_after) == 3  # 20 per minute refills one every 3 s
        assert len(tg.sent(CHAT)) == 4 and len(tg.sent(GROUP)) == 20


async def test_bad_requests_come_back_as_ptb_errors(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(CHAT)
    for bad_html in ("<b>unclosed", "<script>x</script>", "Q&A", "a > b", "<b><i>x</b></i>"):
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(CHAT, bad_html, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    long_data = InlineKeyboardMarkup.from_button(InlineKeyboardButton("b", callback_data="d" * 65))
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(CHAT, "buttons", reply_markup=long_data)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999, "who?")
    ok = await bot.send_message(CHAT, "<b>Q&amp;A</b> &lt;3 <a href='https://x.org'>link</a>", parse_mode="HTML")
    assert ok.text == "Q&A <3 link"
    assert [(e.type, e.offset, e.length) for e in ok.entities] == [("bold", 0, 3), ("text_link", 7, 4)]
    await bot.send_message(CHAT, "x" * 4096)
    assert len(tg.sent(CHAT)) == 2


async def test_blocked_chat_faults_and_unknown_method(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(CHAT)
    tg.block(CHAT)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(CHAT, "hello?")
    tg.unblock(CHAT)
    tg.inject(status=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(CHAT, "x")
    tg.inject(method="sendMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(CHAT, "x")
    await bot.send_message(CHAT, "x")
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    async with httpx.AsyncClient() as raw:
        response = await raw.post(f"{tg.api_url}{tg.token}/noSuchMethod", json={})
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}


async def test_slow_answers_time_out_in_ptb(tg: FakeTelegram) -> None:
    tg.add_chat(CHAT)
    request = HTTPXRequest(read_timeout=0.2)
    async with Bot(tg.token, base_url=tg.api_url, request=request) as bot:
        tg.slow(0.5, method="sendMessage")
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "slow")
        tg.slow(0)
        await bot.send_message(CHAT, "fast", read_timeout=5)


async def test_edits_deletes_commands_chats_and_files(tg: FakeTelegram, bot: Bot) -> None:
    update = tg.user_sends_document(CHAT, b"report body", file_name="report.txt")
    tg.user_sends(GROUP, "/help@helpdesk_test_bot", user=77, chat_type="group", title="Advisers")
    message = await bot.send_message(CHAT, "draft")
    edited = await bot.edit_message_text("final", chat_id=CHAT, message_id=message.message_id)
    assert isinstance(edited, Message) and edited.text == "final"
    assert tg.edits(CHAT)[0]["text"] == "final"
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("final", chat_id=CHAT, message_id=message.message_id)
    keyboard = InlineKeyboardMarkup.from_button(InlineKeyboardButton("Undo", callback_data="undo"))
    await bot.edit_message_reply_markup(CHAT, message.message_id, reply_markup=keyboard)
    assert tg.edits(CHAT)[1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "undo"
    assert await bot.delete_message(CHAT, message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(CHAT, message.message_id)

    await bot.set_my_commands([("help", "Get help")])
    await bot.set_my_commands([("hilfe", "Hilfe")], language_code="de")
    assert [c.command for c in await bot.get_my_commands(language_code="de")] == ["hilfe"]
    assert tg.commands() == [{"command": "help", "description": "Get help"}]

    file_id = update["message"]["document"]["file_id"]
    downloaded = await (await bot.get_file(file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"report body"
    png_header = b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR"
    photo = await bot.send_photo(CHAT, png_header + (64).to_bytes(4, "big") + (48).to_bytes(4, "big"))
    assert (photo.photo[-1].width, photo.photo[-1].height) == (64, 48)
    assert (await bot.send_document(CHAT, file_id)).document.file_name == "report.txt"  # type: ignore[union-attr]
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(CHAT, "not-a-file-id")

    assert (await bot.get_chat(GROUP)).title == "Advisers"
    assert (await bot.get_chat_member(GROUP, 77)).status == "member"
    assert await bot.send_chat_action(CHAT, "typing")
    assert tg.chat_actions == [{"chat_id": CHAT, "action": "typing"}]


async def test_webhook_delivery_with_secret_and_retries(tg: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        if len(received) == 1:
            return web.Response(status=500)
        return web.json_response({"method": "sendMessage", "chat_id": CHAT, "text": "webhook reply"})

    async with serve_aiohttp(hook) as url:
        assert await bot.set_webhook(url, secret_token="s3cret")
        with pytest.raises(Conflict):
            await bot.get_updates()
        tg.user_sends(CHAT, "via webhook")
        (result,) = await tg.deliver_via_webhook(max_attempts=3)
        assert result.delivered and result.attempts == [500, 200]
        assert [secret for secret, _ in received] == ["s3cret", "s3cret"]
        assert received[0][1]["message"]["text"] == "via webhook"
        assert tg.sent(CHAT)[0]["text"] == "webhook reply"
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        assert await bot.delete_webhook()
        assert await bot.get_updates() == ()


def test_html_parser_entities_use_utf16_offsets() -> None:
    text, entities = parse_html('😀 <b>bold <i>both</i></b> <pre><code class="language-py">x</code></pre>')
    assert text == "😀 bold both x"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 8, "length": 4},
        {"type": "pre", "offset": 13, "length": 1, "language": "py"},
    ]


# ---------------------------------------------------------------------------------------- Slack


async def test_web_client_posts_updates_and_reads(slack: FakeSlack, web_client: AsyncWebClient) -> None:
    posted = await web_client.chat_postMessage(channel="C0GENERAL", text="Hello")
    reply = await web_client.chat_postMessage(channel="C0GENERAL", text="In thread", thread_ts=posted["ts"])
    assert reply["ts"] != posted["ts"] and reply["message"]["thread_ts"] == posted["ts"]
    updated = await web_client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="Hello again")
    assert updated["text"] == "Hello again"
    assert [m["text"] for m in slack.posted("C0GENERAL")] == ["Hello", "In thread"]
    assert slack.updates[0]["text"] == "Hello again"
    assert slack.message("C0GENERAL", posted["ts"])["reply_count"] == 1  # type: ignore[index]

    dm = (await web_client.conversations_open(users=DEFAULT_USER))["channel"]["id"]
    assert dm.startswith("D") and (await web_client.conversations_info(channel=dm))["channel"]["is_im"]
    user = (await web_client.users_info(user=DEFAULT_USER, include_locale=True))["user"]
    assert user["locale"] == "en-US" and user["tz"] and user["profile"]["real_name"]
    await web_client.chat_postEphemeral(channel="C0GENERAL", user=DEFAULT_USER, text="psst")
    assert slack.ephemeral[0]["recipient"] == DEFAULT_USER
    view = await web_client.views_publish(user_id=DEFAULT_USER, view={"type": "home", "blocks": []})
    assert slack.views[0]["view"]["id"] == view["view"]["id"]
    file_id = slack.add_file(b"minutes", "minutes.txt")["id"]
    assert (await web_client.files_info(file=file_id))["file"]["name"] == "minutes.txt"
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_postMessage(channel="C0NOPE", text="x")
    assert caught.value.response["error"] == "channel_not_found"


async def test_web_client_sees_rate_limits_faults_and_bad_tokens(slack: FakeSlack, web_client: AsyncWebClient) -> None:
    slack.inject("chat.postMessage", status=429, retry_after=12)
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_postMessage(channel="C0GENERAL", text="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "12"
    assert caught.value.response["error"] == "ratelimited"
    slack.inject("chat.update", status=503)
    with pytest.raises(SlackApiError) as caught:
        await web_client.chat_update(channel="C0GENERAL", ts="1.2", text="x")
    assert caught.value.response.status_code == 503
    assert slack.posted() == []

    bad = AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as caught:
        await bad.auth_test()
    assert caught.value.response["error"] == "invalid_auth"

    slack.slow(0.5, method="auth.test")
    impatient = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, timeout=0.1)  # type: ignore[arg-type]
    with pytest.raises(asyncio.TimeoutError):
        await impatient.auth_test()


def _bolt_app(web_client: AsyncWebClient, signing_secret: str = DEFAULT_SIGNING_SECRET) -> AsyncApp:
    app = AsyncApp(client=web_client, signing_secret=signing_secret)

    @app.event("message")
    async def on_message(event: dict[str, Any], say: Any) -> None:
        await say(
            text=f"echo: {event['text']}",
            blocks=[
                {
                    "type": "actions",
                    "block_id": "faq",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "helpful",
                            "value": "yes",
                            "text": {"type": "plain_text", "text": "Helpful"},
                        }
                    ],
                }
            ],
        )

    @app.action("helpful")
    async def on_click(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        container = body["container"]
        await client.chat_update(
            channel=container["channel_id"], ts=container["message_ts"], text=f"thanks: {body['actions'][0]['value']}"
        )

    @app.command("/helpdesk")
    async def on_command(ack: Any, command: dict[str, Any]) -> None:
        await ack(f"helpdesk {command['text']}")

    return app


async def test_bolt_over_http_receives_signed_events_and_clicks(slack: FakeSlack, web_client: AsyncWebClient) -> None:
    handler = AsyncSlackRequestHandler(_bolt_app(web_client))

    async def endpoint(request: Request) -> Response:
        return await handler.handle(request)

    starlette_app = Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])
    async with serve_asgi(starlette_app) as base:
        slack.configure_http(f"{base}/slack/events", DEFAULT_SIGNING_SECRET)
        challenge = await slack.verify_url()
        assert challenge.ack_payload == {"challenge": challenge.payload["challenge"]}

        delivery = await slack.user_says("where is the template?")
        assert delivery.attempts == [200]
        dm = slack.dm_channel(DEFAULT_USER)
        (reply,) = await slack.wait_posted(dm)
        assert reply["text"] == "echo: where is the template?"

        click = await slack.user_clicks("helpful")
        assert click.attempts == [200]
        await slack.wait_for(lambda: bool(slack.updates))
        assert slack.updates[0]["text"] == "thanks: yes" and slack.updates[0]["ts"] == reply["ts"]

        command = await slack.user_runs_command("/helpdesk", "status")
        assert command.ack_payload == {"text": "helpdesk status"}

        assert await slack.replay_last() == 200  # verbatim replay still carries a valid signature
        assert await slack.replay_last(tamper_signature=True) == 401
        body = json.dumps(slack.deliveries[1].payload).encode()
        assert await slack.post_signed(body, signing_secret="not-the-secret") == 401
        assert await slack.post_signed(body, timestamp=1_000_000_000) == 401  # stale timestamp


async def test_http_events_are_retried_like_slack() -> None:
    seen: list[tuple[str | None, str | None]] = []

    async def flaky(request: web.Request) -> web.Response:
        seen.append((request.headers.get("X-Slack-Retry-Num"), request.headers.get("X-Slack-Retry-Reason")))
        if len(seen) == 1:
            await asyncio.Event().wait()  # never answers: the fake gives up after http_timeout
        return web.Response(status=500 if len(seen) == 2 else 200)

    async with FakeSlack(http_timeout=0.5) as slack, serve_aiohttp(flaky) as url:
        slack.configure_http(url, "secret")
        delivery = await slack.user_mentions("help")
        assert delivery.attempts == ["http_timeout", 500, 200] and delivery.ok
        assert seen == [(None, None), ("1", "http_timeout"), ("2", "http_error")]
        assert delivery.payload["event"]["text"].startswith(f"<@{slack.bot_user_id}>")


async def test_bolt_socket_mode_receives_and_acks(slack: FakeSlack, web_client: AsyncWebClient) -> None:
    handler = AsyncSocketModeHandler(_bolt_app(web_client), slack.app_token)
    queued = await slack.user_says("queued before connecting")
    await handler.connect_async()
    try:
        await slack.wait_connected()
        await queued.wait_acked()
        delivery = await slack.user_says("hello over socket")
        await delivery.wait_acked()
        assert delivery.attempts == ["sent"]
        posted = await slack.wait_posted(count=2)
        assert {m["text"] for m in posted} == {"echo: queued before connecting", "echo: hello over socket"}

        command = await slack.user_runs_command("/helpdesk", "open tickets")
        assert await command.wait_acked() == {"text": "helpdesk open tickets"}
        click = await slack.user_clicks("helpful")
        await click.wait_acked()
        await slack.wait_for(lambda: bool(slack.updates))
    finally:
        await handler.close_async()


async def test_socket_mode_redelivers_unacked_envelopes() -> None:
    async with FakeSlack(ack_timeout=0.3, max_retries=1) as slack:
        await _check_redelivery(slack)


async def _check_redelivery(slack: FakeSlack) -> None:
    app_client = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    url = (await app_client.apps_connections_open(app_token=slack.app_token))["url"]
    assert url.startswith("ws://")
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        assert (await ws.receive_json(timeout=2))["type"] == "hello"
        delivery = await slack.user_says("are you there?")
        first = await ws.receive_json(timeout=2)
        assert first["type"] == "events_api" and first["retry_attempt"] == 0
        assert first["payload"]["event"]["channel_type"] == "im"
        second = await ws.receive_json(timeout=2)  # not acked within ack_timeout
        assert second["envelope_id"] == first["envelope_id"]
        assert (second["retry_attempt"], second["retry_reason"]) == (1, "timeout")
        await ws.send_json({"envelope_id": first["envelope_id"]})
        await delivery.wait_acked()
        assert delivery.attempts == ["sent", "sent"]
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(token=slack.bot_token, base_url=slack.api_url).apps_connections_open(
            app_token=slack.bot_token
        )
    assert caught.value.response["error"] == "not_allowed_token_type"


async def test_history_and_replies_return_message_metadata_when_asked(slack: FakeSlack,
                                                                       web_client: AsyncWebClient) -> None:
    metadata = {"event_type": "helpdesk_outbox", "event_payload": {"outbox_id": 7, "part": 0}}
    card = await web_client.chat_postMessage(channel="C0GENERAL", text="Ticket #1", metadata=metadata)
    reply = {"event_type": "helpdesk_outbox", "event_payload": {"outbox_id": 8, "part": 0}}
    await web_client.chat_postMessage(channel="C0GENERAL", text="in its thread", thread_ts=card["ts"], metadata=reply)
    later = await web_client.chat_postMessage(channel="C0GENERAL", text="later")

    plain = await web_client.conversations_history(channel="C0GENERAL")
    assert [m["text"] for m in plain["messages"]] == ["later", "Ticket #1"]  # newest first, no thread replies
    assert all("metadata" not in m for m in plain["messages"])
    full = await web_client.conversations_history(channel="C0GENERAL", include_all_metadata=True)
    assert full["messages"][1]["metadata"] == metadata
    first = await web_client.conversations_history(channel="C0GENERAL", limit=1)
    assert first["has_more"] and [m["ts"] for m in first["messages"]] == [later["ts"]]
    rest = await web_client.conversations_history(channel="C0GENERAL", limit=1,
                                                  cursor=first["response_metadata"]["next_cursor"])
    assert [m["ts"] for m in rest["messages"]] == [card["ts"]] and not rest["has_more"]
    recent = await web_client.conversations_history(channel="C0GENERAL", oldest=card["ts"])
    assert [m["ts"] for m in recent["messages"]] == [later["ts"]]  # oldest is exclusive

    thread = await web_client.conversations_replies(channel="C0GENERAL", ts=card["ts"], include_all_metadata=True)
    assert [m["text"] for m in thread["messages"]] == ["Ticket #1", "in its thread"]
    assert thread["messages"][1]["metadata"] == reply
    with pytest.raises(SlackApiError) as caught:
        await web_client.conversations_history(channel=DEFAULT_USER)  # a DM is read by its D… id
    assert caught.value.response["error"] == "channel_not_found"


async def test_several_request_urls_take_turns_and_a_retry_goes_to_the_next() -> None:
    seen: dict[str, list[str | None]] = {"a": [], "b": []}

    def replica(name: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            seen[name].append(request.headers.get("X-Slack-Retry-Num"))
            return web.Response(status=200)
        return handle

    async with FakeSlack() as slack, serve_aiohttp(replica("a")) as a, serve_aiohttp(replica("b")) as b:
        slack.configure_http([a, b], "secret")
        first, second = await slack.user_says("one"), await slack.user_says("two")
        assert (first.targets, second.targets) == ([a], [b])
        assert await slack.retry(first) == 200  # Slack retries an answer that came late …
        assert first.targets == [a, b] and first.attempts == [200, 200]
        assert seen == {"a": [None], "b": [None, "1"]}  # … and the other replica gets it
