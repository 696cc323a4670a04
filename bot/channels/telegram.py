"""The Telegram channel (python-telegram-bot's Bot): long polling or a webhook in, paced sends out.

Inbound updates are acknowledged only once they are stored: in polling mode the offset moves past a
batch after every `submit()` of it returned; in webhook mode the answer is 200 after `submit()`,
403 for a wrong secret (nothing processed) and 503 when the database fails (Telegram retries).
Outbound: HTML parse mode with all text escaped, inline keyboards, edits, texts over 4,096
characters split at paragraph or sentence boundaries, files relayed by file id, per-chat pacing
(≈1/s per chat, 20/min per group, a global budget), and errors mapped onto the outbox's retry rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import hmac
import html
import logging
from collections.abc import Awaitable, Sequence
from functools import partial
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.channels.base import Desk, StepSender, post_id, split_post_id, with_file_notes
from bot.channels.pacing import Budget, Pacer
from bot.channels.telegram_http import AiohttpRequest
from bot.channels.telegram_inbound import ALLOWED_UPDATES, CHANNEL, incoming
from bot.channels.text import shorten, split_text, utf16_len
from bot.config import ConfigError
from bot.core.budgets import SharedBudgets
from bot.core.files import FileStore
from bot.core.messages import Attachment, Button, OutgoingMessage
from bot.core.outbox import PermanentFailure, RetryLater, backoff
from bot.core.router import EXPERT, PRACTITIONER, SECRETARIAT, Router
from bot.faults import log_failure
from bot.i18n import LANGUAGES, t

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_TEXT = 4096
MAX_TOAST = 200
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram/webhook"
PRIVATE_BUDGET = Budget(burst=3, per_second=1.0)
GROUP_BUDGET = Budget(burst=20, per_second=20 / 60)


def _seconds(value: float | dtm.timedelta) -> float:
    """PTB reports retry_after as seconds or as a timedelta (PTB_TIMEDELTA)."""
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _chat(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


def file_url(api_url: str) -> str:
    """Where the Bot API serves files, next to its methods: '…/bot' → '…/file/bot'."""
    base = api_url.rstrip("/")
    return base.removesuffix("/bot") + "/file/bot"


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Inline keyboard: short labels share a row (up to 3), long ones get their own."""
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        row = rows[-1] if rows else None
        if row is None or len(row) == 3 or sum(len(b.text) for b in row) + len(button.label) > 30:
            row = []
            rows.append(row)
        row.append(InlineKeyboardButton(button.label, callback_data=button.action))
    return InlineKeyboardMarkup(rows) if rows else None


class TelegramChannel:
    """The Telegram adapter: receives updates, sends outbox rows."""

    name = CHANNEL

    def __init__(self, token: str, api_url: str, *, webhook_url: str | None = None,
                 webhook_secret: str | None = None, max_per_second: float = 30.0,
                 poll_timeout: int = 25, files: FileStore | None = None, shared_pacing: bool = False) -> None:
        self.bot = Bot(token, base_url=api_url, base_file_url=file_url(api_url), request=AiohttpRequest(pool_size=64),
                       get_updates_request=AiohttpRequest(pool_size=2))
        self.files = files  # web chat files, sent to Telegram as files (not links) when given
        self._webhook_url = webhook_url
        self._secret = webhook_secret or ""
        self._poll_timeout = poll_timeout
        self.pacer = Pacer(PRIVATE_BUDGET, GROUP_BUDGET, Budget(max_per_second, max_per_second))
        self._shared_pacing = shared_pacing
        self._shared: SharedBudgets | None = None  # per-chat budgets of all replicas (PostgreSQL)
        self._steps = StepSender()
        self._desk: Desk | None = None
        self._ready = False
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._poller: asyncio.Task[int | None] | None = None

    def describe(self) -> str:
        """How updates arrive."""
        return f"telegram: webhook ({WEBHOOK_PATH})" if self._webhook_url else "telegram: long polling"

    def routes(self) -> list[BaseRoute]:
        """The webhook endpoint, in webhook mode only."""
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])] if self._webhook_url else []

    # ----------------------------------------------------------------------------- life cycle

    async def _open(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if not self._ready:
                try:
                    await self.bot.initialize()
                except InvalidToken:
                    raise ConfigError("TELEGRAM_BOT_TOKEN", ["the token was rejected by Telegram"]) from None
                self._ready = True

    async def start(self, desk: Desk) -> None:
        """Check the token, publish the command menus, then take updates by webhook or long polling."""
        self._desk = desk
        if self._shared_pacing and desk.engine.dialect.name == "postgresql":
            self._shared = SharedBudgets(desk.engine)
        self._stop.clear()
        try:
            await self._open()
        except TelegramError as exc:
            raise ConfigError("TELEGRAM_API_URL", [f"cannot reach the Bot API: {exc}"]) from None
        await self._publish_commands(desk.router, desk.config.service.default_language)
        try:
            if self._webhook_url:
                await self.bot.set_webhook(self._webhook_url, secret_token=self._secret,
                                           allowed_updates=ALLOWED_UPDATES)
            else:
                await self.bot.delete_webhook()
        except TelegramError as exc:
            raise ConfigError("TELEGRAM_WEBHOOK_URL", [f"Telegram refused the webhook: {exc}"]) from None
        if not self._webhook_url:
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")

    async def stop(self) -> None:
        """Stop polling after the batch in hand is stored, and confirm it to Telegram."""
        self._stop.set()
        if self._poller is not None:
            offset = await self._poller
            self._poller = None
            if offset is not None:
                with contextlib.suppress(TelegramError):
                    await self.bot.get_updates(offset=offset, timeout=0, limit=1)

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self.bot.shutdown()
        self._ready = False

    async def _publish_commands(self, router: Router, default_lang: str) -> None:
        """setMyCommands per language: practitioners' commands in private chats, staff's in groups."""
        audiences: list[tuple[BotCommandScope, tuple[str, ...]]] = [
            (BotCommandScopeAllPrivateChats(), (PRACTITIONER,)),
            (BotCommandScopeAllGroupChats(), (EXPERT, SECRETARIAT)),
        ]
        try:
            for scope, roles in audiences:
                found = {c.name: c for role in roles for c in router.commands_for(role) if c.help_key}
                for lang in (*LANGUAGES, ""):
                    commands = [BotCommand(c.name, shorten(t(c.help_key or "", lang or default_lang), 256))
                                for c in found.values()]
                    await self.bot.set_my_commands(commands, scope=scope, language_code=lang or None)
        except TelegramError as exc:
            log.warning("could not publish the Telegram command menus: %s", exc)

    # -------------------------------------------------------------------------------- inbound

    async def _poll(self) -> int | None:
        """getUpdates until stopped; the offset moves past a batch only once all of it is stored."""
        offset: int | None = None
        failures = 0
        while not self._stop.is_set():
            fetch = asyncio.ensure_future(self.bot.get_updates(
                offset=offset, timeout=self._poll_timeout, allowed_updates=ALLOWED_UPDATES))
            stopping = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not fetch.done():
                fetch.cancel()
                break
            try:
                updates = fetch.result()
                if updates:
                    await self._receive(updates)
                    offset = updates[-1].update_id + 1
                failures = 0
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))
            except Exception as exc:  # network, Telegram or database trouble: the same updates come again
                failures += 1
                log.warning("telegram polling: %s; retrying", exc)
                await asyncio.sleep(backoff(failures))
        return offset

    async def _receive(self, updates: Sequence[Update]) -> None:
        """Submit every update (in order, concurrently) and wait until all are stored; raise if one failed."""
        results = await asyncio.gather(*(self._take(u) for u in updates), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _take(self, update: Update) -> None:
        assert self._desk is not None
        msg = incoming(update, self.bot.id, self.bot.username or "")
        outcome = await self._desk.submit(msg) if msg is not None else None
        if update.callback_query is not None:
            await self._answer(update.callback_query, outcome.notice if outcome else None)

    async def _answer(self, query: CallbackQuery, notice: str | None) -> None:
        """Always answer a button press (no spinning button); a short reply becomes a toast."""
        text = shorten(notice, MAX_TOAST) if notice else None
        with contextlib.suppress(TelegramError):  # too old or answered already: nothing to do
            await self.bot.answer_callback_query(query.id, text=text)

    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not self._secret or not hmac.compare_digest(given, self._secret.encode()):
            return Response(status_code=403)
        if self._desk is None:
            return Response(status_code=503)
        try:
            update = Update.de_json(await request.json(), self.bot)
        except (ValueError, TypeError, KeyError):
            return Response(status_code=400)
        try:
            await self._receive([update])
        except Exception as exc:
            log_failure(log, f"telegram update {update.update_id} could not be stored", exc,
                        "answered 503: Telegram delivers it again")
            return Response(status_code=503)
        return Response(status_code=200)

    # ------------------------------------------------------------------------------- outbound

    async def send(self, message: OutgoingMessage) -> str | None:
        """Post (or edit) one outbox row; return the first post's id ('chat/message_id')."""
        await self._open()
        if message.kind == "edit":
            return await self._edit(message)
        text = with_file_notes(message.text, [a for a in message.attachments if not self._stored(a)], CHANNEL)
        parts = [p for p in split_text(text, MAX_TEXT, utf16_len) if p.strip()]
        files = [a for a in message.attachments if a.channel == CHANNEL or self._stored(a)]
        steps = [partial(self._post_text, message, part, index == 0, index == len(parts) - 1)
                 for index, part in enumerate(parts)]
        steps += [partial(self._post_file, message, file) for file in files]
        return await self._steps.run(message.outbox_id, steps)

    async def _pace(self, chat_id: str) -> None:
        group = chat_id.startswith("-")
        wait = self.pacer.chat_wait(chat_id, group)
        if wait == 0 and self._shared is not None:  # other replicas may have posted to the chat
            wait = await self._shared.take(f"{CHANNEL}:{chat_id}", GROUP_BUDGET if group else PRIVATE_BUDGET)
        if wait > 0:
            raise RetryLater(wait, "pacing this chat", rate_limited=True, quiet=True)
        await self.pacer.take(chat_id, group)

    async def _post_text(self, message: OutgoingMessage, text: str, first: bool, last: bool) -> str:
        await self._pace(message.chat_id)
        reply = None
        if first and message.thread_external_id:
            reply = ReplyParameters(int(split_post_id(message.thread_external_id)[1]),
                                    allow_sending_without_reply=True)
        sent = await self._call(message.attempt, self.bot.send_message(
            _chat(message.chat_id), html.escape(text, quote=False), parse_mode=ParseMode.HTML,
            reply_markup=keyboard(message.buttons) if last else None, reply_parameters=reply))
        return post_id(sent.chat_id, sent.message_id)

    def _stored(self, file: Attachment) -> bool:
        """A web chat file whose bytes this process keeps: it goes as a file."""
        return self.files is not None and self.files.holds(file)

    async def _post_file(self, message: OutgoingMessage, file: Attachment) -> str:
        await self._pace(message.chat_id)
        chat = _chat(message.chat_id)
        content: str | InputFile = file.file_id
        if file.channel != CHANNEL and self.files is not None:  # the bytes of a web chat file
            content = InputFile(self.files.path(file.sha256).read_bytes(), filename=file.name or "file")
        call = (self.bot.send_photo(chat, content) if file.kind == "photo"
                else self.bot.send_document(chat, content))
        sent: Message = await self._call(message.attempt, call)
        return post_id(sent.chat_id, sent.message_id)

    async def download(self, file_id: str, limit: int) -> bytes:
        """The bytes of a file sent to the bot (what the web chat fetches for an expert's file), at most `limit`."""
        await self._open()
        found = await self.bot.get_file(file_id)
        if found.file_size and found.file_size > limit:
            raise ValueError(f"the file has {found.file_size} bytes, more than {limit}")
        return bytes(await found.download_as_bytearray())

    async def _edit(self, message: OutgoingMessage) -> str | None:
        assert message.edit_external_id is not None
        await self._pace(message.chat_id)
        chat, message_id = split_post_id(message.edit_external_id)
        text = html.escape(shorten(message.text, MAX_TEXT, utf16_len), quote=False)
        try:
            await self._call(message.attempt, self.bot.edit_message_text(
                text, chat_id=_chat(chat), message_id=int(message_id), parse_mode=ParseMode.HTML,
                reply_markup=keyboard(message.buttons)))
        except PermanentFailure as exc:
            if "not modified" not in str(exc).lower():
                raise
        return message.edit_external_id

    @staticmethod
    async def _call(attempt: int, call: Awaitable[T]) -> T:
        """Run a Bot API call; map its errors onto RetryLater / PermanentFailure."""
        try:
            return await call
        except RetryAfter as exc:
            raise RetryLater(_seconds(exc.retry_after), "Telegram: too many requests (429)",
                             rate_limited=True) from None
        except Forbidden as exc:  # blocked by the user, kicked from the group
            raise PermanentFailure(f"Telegram: {exc}", unreachable=True) from None
        except ChatMigrated as exc:
            raise PermanentFailure(f"Telegram: the group is now the supergroup {exc.new_chat_id}; "
                                   "update its id in the configuration") from None
        except BadRequest as exc:  # a subclass of NetworkError: check it first
            raise PermanentFailure(f"Telegram: {exc}") from None
        except (TimedOut, NetworkError) as exc:  # 5xx, connection trouble
            reason = str(exc).split(". Parsing the server response")[0]  # not the HTML page of a proxy's 502
            raise RetryLater(backoff(attempt), f"Telegram: {reason}") from None
