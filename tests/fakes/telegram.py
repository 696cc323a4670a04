"""A local fake of the Telegram Bot API that the unmodified python-telegram-bot can talk to.

Start it, point PTB at it and script the users::

    async with FakeTelegram() as tg:
        bot = Bot(tg.token, base_url=tg.api_url, base_file_url=tg.file_url)
        tg.user_sends(42, "/start")
        ...
        assert tg.sent(42)[-1]["text"] == "Welcome!"

The server answers ``/bot<TOKEN>/<method>`` with the same envelopes, status codes and error
descriptions as Telegram (``{"ok": false, "error_code": 400, "description": "Bad Request: ..."}``),
enforces Telegram-like flood limits, validates HTML markup, inline keyboards and message length, and
supports both long polling and webhook delivery.  Faults can be scripted with :meth:`FakeTelegram.inject`
and :meth:`FakeTelegram.slow`.

Not modelled: MarkdownV2 validation (text is passed through), inline-mode messages, media groups, payments,
flood limits on edits (only send* methods are limited), and automatic webhook pushes (call
:meth:`FakeTelegram.deliver_via_webhook`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import json
import math
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.served import ServedFake

JSON = dict[str, Any]
UserSpec = int | Mapping[str, Any] | None

DEFAULT_TOKEN = "123456789:AAFakeTokenForLocalTestsOnly0123456789"
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_BOT_COMMAND_IN_TEXT = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION_IN_TEXT = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}")
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
    }
)
#: Update types Telegram leaves out unless they are listed in ``allowed_updates``.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
)


class TelegramApiError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional ``parameters``."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        """The JSON body Telegram sends for this error."""
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(detail: str) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {detail}")


# --------------------------------------------------------------------------------------------- HTML


class HtmlParseError(ValueError):
    """Raised by :func:`parse_html` with Telegram's wording for the problem."""


_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)
_ATTR_RE = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_HTML_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    offset: int
    language: str | None = None


def _tag_attrs(raw: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or "" for m in _ATTR_RE.finditer(raw)}


def _decode_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name.startswith("#x"):
        return chr(int(name[2:], 16))
    if name.startswith("#"):
        return chr(int(name[1:]))
    return _NAMED_ENTITIES[name]


def _entity_for(tag: _OpenTag, offset: int, length: int) -> JSON | None:
    kind = _TAG_ENTITY[tag.name]
    entity: JSON = {"type": kind, "offset": tag.offset, "length": length}
    if tag.name == "a":
        href = tag.attrs.get("href", "")
        if not href:
            return None
        if href.startswith("tg://user?id="):
            entity = {"type": "text_mention", "offset": tag.offset, "length": length}
            entity["user"] = {"id": int(href.split("=", 1)[1]), "is_bot": False, "first_name": ""}
        else:
            entity["url"] = href
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "pre" and tag.language:
        entity["language"] = tag.language
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs.get("emoji-id", "")
    return entity


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML subset into plain text and message entities.

    Raises :class:`HtmlParseError` for unknown or unbalanced tags and for unescaped ``<``, ``>``, ``&``.
    """
    out: list[str] = []
    entities: list[JSON] = []
    stack: list[_OpenTag] = []
    offset = 0
    i = 0
    while i < len(text):
        char = text[i]
        byte_offset = len(text[:i].encode())
        if char == "<":
            match = _TAG_RE.match(text, i)
            if match is None:
                raise HtmlParseError(f'Unsupported start tag "" at byte offset {byte_offset}')
            closing, name, raw_attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
            if closing:
                entity = _close_tag(stack, name, offset, byte_offset)
                if entity is not None:
                    entities.append(entity)
            else:
                stack.append(_open_tag(name, _tag_attrs(raw_attrs), offset, stack, byte_offset))
            i = match.end()
            continue
        if char == "&":
            match = _HTML_ENTITY_RE.match(text, i)
            if match is None:
                raise HtmlParseError(f'Character "&" must be escaped at byte offset {byte_offset}')
            piece, i = _decode_entity(match), match.end()
        elif char == ">":
            raise HtmlParseError(f'Character ">" must be escaped at byte offset {byte_offset}')
        else:
            piece, i = char, i + 1
        out.append(piece)
        offset += utf16_len(piece)
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _open_tag(name: str, attrs: dict[str, str], offset: int, stack: list[_OpenTag], byte_offset: int) -> _OpenTag:
    if name not in _TAG_ENTITY or (name == "span" and attrs.get("class") != "tg-spoiler"):
        raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {byte_offset}')
    tag = _OpenTag(name, attrs, offset)
    if name == "code" and stack and stack[-1].name == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].language = language.removeprefix("language-")
            tag.language = stack[-1].language
    return tag


def _close_tag(stack: list[_OpenTag], name: str, offset: int, byte_offset: int) -> JSON | None:
    if not stack:
        raise HtmlParseError(f"Unexpected end tag at byte offset {byte_offset}")
    top = stack.pop()
    if top.name != name:
        raise HtmlParseError(
            f'Unmatched end tag at byte offset {byte_offset}, expected "</{top.name}>", found "</{name}>"'
        )
    if offset == top.offset or (top.language is not None and top.name == "code"):
        return None  # empty entities are dropped; <pre><code class=...> becomes one pre entity
    return _entity_for(top, offset, offset - top.offset)


# ---------------------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class RateLimits:
    """Flood limits per chat and in total, modelled on Telegram's published guidance."""

    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20
    global_per_second: int = 30


DEFAULT_RATE_LIMITS = RateLimits()


class _Bucket:
    """A token bucket: ``capacity`` tokens, refilled at ``rate`` tokens per second."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class _FloodControl:
    """Per-chat and global buckets; answers how long a sender must wait, like Telegram's 429."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._chats: dict[int, _Bucket] = {}
        self._global: _Bucket | None = None

    def _bucket_for(self, chat: JSON, now: float) -> _Bucket:
        bucket = self._chats.get(chat["id"])
        if bucket is None:
            if chat["type"] == "private":
                bucket = _Bucket(self.limits.private_burst, self.limits.private_per_second, now)
            else:
                bucket = _Bucket(self.limits.group_per_minute, self.limits.group_per_minute / 60, now)
            self._chats[chat["id"]] = bucket
        return bucket

    def acquire(self, chat: JSON) -> int:
        """Take a token for ``chat``; return 0 on success, else the whole seconds to wait."""
        now = self.clock()
        if self._global is None:
            self._global = _Bucket(self.limits.global_per_second, self.limits.global_per_second, now)
        buckets = [self._bucket_for(chat, now), self._global]
        wait = max(bucket.wait_time(now) for bucket in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.take()
        return 0


# --------------------------------------------------------------------------------------- records


@dataclass
class Fault:
    """A scripted failure: the next ``times`` calls of ``method`` (any method if None) fail."""

    method: str | None
    status: int
    times: int
    retry_after: int
    description: str | None = None


@dataclass
class ApiCall:
    """One request the bot made: method, decoded parameters, HTTP status and JSON answer."""

    method: str
    params: JSON
    status: int
    response: JSON | None


@dataclass
class WebhookDelivery:
    """The outcome of delivering one update to the bot's webhook."""

    update_id: int
    attempts: list[int | str] = field(default_factory=list)
    delivered: bool = False


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes | None
    file_name: str | None = None
    mime_type: str | None = None
    url: str | None = None
    path: str | None = None


class _Params:
    """Typed access to Bot API parameters that arrive as JSON values or as form strings."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def has(self, name: str) -> bool:
        return self.data.get(name) not in (None, "")

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None:
            return default
        return value if isinstance(value, str) else str(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.data.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def number(self, name: str, default: float = 0.0) -> float:
        value = self.data.get(name)
        if value in (None, ""):
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.data.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def obj(self, name: str) -> Any:
        value = self.data.get(name)
        if isinstance(value, str) and name in _JSON_FIELDS:
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise _bad_request(f"can't parse {name} JSON object") from None
        return value


async def _read_params(request: web.Request) -> JSON:
    """Merge query string and body (JSON, urlencoded or multipart) into one parameter dict."""
    params: JSON = dict(request.query)
    if request.content_type == "application/json":
        body = await request.read()
        if body:
            try:
                data = json.loads(body)
            except json.JSONDecodeError:
                raise _bad_request("can't parse JSON request body") from None
            if not isinstance(data, dict):
                raise _bad_request("request body must be a JSON object")
            params.update(data)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        params.update(await request.post())
    return params


def _loggable(params: Mapping[str, Any]) -> JSON:
    return {k: f"<upload {v.filename}>" if isinstance(v, web.FileField) else v for k, v in params.items()}


def _image_size(data: bytes | None) -> tuple[int, int]:
    """Width and height of a PNG (read from its header); 800x600 for anything else."""
    if data and data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 800, 600


def _text_entities(text: str) -> list[JSON]:
    """Entities Telegram attaches to a user's text: bot commands and @mentions."""
    entities = []
    for pattern, kind in ((_BOT_COMMAND_IN_TEXT, "bot_command"), (_MENTION_IN_TEXT, "mention")):
        for match in pattern.finditer(text):
            start = utf16_len(text[: match.start()])
            entities.append({"type": kind, "offset": start, "length": utf16_len(match.group(0))})
    return sorted(entities, key=lambda e: e["offset"])


def _without_reply(message: Mapping[str, Any]) -> JSON:
    """A copy of ``message`` for use as ``reply_to_message`` (Telegram nests only one level)."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _update_type(update: Mapping[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


# ------------------------------------------------------------------------------------------ server


class FakeTelegram(ServedFake):
    """An in-process Telegram Bot API server (aiohttp) with helpers to play the users' side.

    Args:
        token: the one bot token the server accepts; other well-formed tokens get 401.
        bot_username: the bot's username as returned by getMe.
        rate_limits: flood limits, or None to disable them.
        clock: monotonic clock used by the flood limits (inject one to control time in tests).
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "helpdesk_test_bot",
        bot_name: str = "Helpdesk",
        rate_limits: RateLimits | None = DEFAULT_RATE_LIMITS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.bot_user: JSON = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._clock = clock
        self._flood = _FloodControl(rate_limits, clock) if rate_limits else None
        self._base_url = ""
        self._closing = False
        # state
        self._updates: list[JSON] = []
        self._next_update_id = 100_000_001
        self._allowed_updates: set[str] | None = None
        self._changed = asyncio.Event()
        self._poll_generation = 0
        self._waiting_polls = 0
        self._chats: dict[int, JSON] = {}
        self._users: dict[int, JSON] = {}
        self._members: dict[int, dict[int, str]] = {}
        self._blocked: set[int] = set()
        self._message_ids: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._open_queries: set[str] = set()
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._webhook: _Webhook | None = None
        # logs
        self._sent: list[JSON] = []
        self._edits: list[JSON] = []
        self.deleted: list[tuple[int, int]] = []
        self.callback_answers: list[JSON] = []
        self.chat_actions: list[JSON] = []
        self._calls: list[ApiCall] = []
        #: called with each message the bot sends, as it is stored (for benchmarks timing deliveries)
        self.on_send: Callable[[JSON], None] | None = None
        # faults
        self._faults: list[Fault] = []
        self._slow: dict[str | None, float] = {}
        self._methods: dict[str, Callable[[_Params], Any]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "getfile": self._get_file,
            "sendchataction": self._send_chat_action,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
        }

    # ------------------------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving; return the base URL (``http://host:port``)."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._closing = False
        return await self._serve(app, host, port)

    async def stop(self) -> None:
        """Wake pending long polls and shut the server down."""
        self._closing = True
        self._notify()
        await self._shut_down()

    @property
    def api_url(self) -> str:
        """Value for PTB's ``base_url`` (the token is appended by PTB)."""
        return f"{self._base_url}/bot"

    @property
    def file_url(self) -> str:
        """Value for PTB's ``base_file_url``."""
        return f"{self._base_url}/file/bot"

    # --------------------------------------------------------------------------- fault control

    def inject(
        self,
        method: str | None = None,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: int = 5,
        description: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (any method if None) fail with ``status``."""
        fault = Fault(method.lower() if method else None, status, times, retry_after, description)
        self._faults.append(fault)

    def slow(self, seconds: float, method: str | None = None) -> None:
        """Delay answers of ``method`` by ``seconds``; without a method, of all methods (``slow(0)`` resets)."""
        if method is None:
            self._slow = {None: seconds}
        else:
            self._slow[method.lower()] = seconds

    def set_rate_limits(self, limits: RateLimits | None) -> None:
        """Replace the flood limits (None disables them) and forget past usage."""
        self._flood = _FloodControl(limits, self._clock) if limits else None

    def block(self, chat_id: int) -> None:
        """Make sends to ``chat_id`` fail with 403, as when the user blocked the bot."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Undo :meth:`block`."""
        self._blocked.discard(chat_id)

    # --------------------------------------------------------------------------- the users' side

    def user_sends(
        self,
        chat_id: int,
        text: str,
        user: UserSpec = None,
        chat_type: str = "private",
        *,
        title: str | None = None,
        reply_to: int | None = None,
    ) -> JSON:
        """Enqueue a text message from a user; return the Update (with its ``message_id``)."""
        content = {"text": text, "entities": _text_entities(text)}
        return self._enqueue({"message": self._user_message(chat_id, user, chat_type, title, reply_to, content)})

    def user_sends_photo(
        self,
        chat_id: int,
        data: bytes = b"\x89PNG\r\n\x1a\n",
        caption: str | None = None,
        user: UserSpec = None,
        chat_type: str = "private",
    ) -> JSON:
        """Enqueue a photo message from a user; the bytes are downloadable via getFile."""
        stored = self._store_file("photo", data=data)
        content = {"photo": self._photo_sizes(stored), **self._caption(caption)}
        return self._enqueue({"message": self._user_message(chat_id, user, chat_type, None, None, content)})

    def user_sends_document(
        self,
        chat_id: int,
        data: bytes,
        file_name: str = "document.txt",
        mime_type: str = "text/plain",
        caption: str | None = None,
        user: UserSpec = None,
        chat_type: str = "private",
    ) -> JSON:
        """Enqueue a document message from a user; the bytes are downloadable via getFile."""
        stored = self._store_file("document", data=data, file_name=file_name, mime_type=mime_type)
        content = {"document": self._document(stored), **self._caption(caption)}
        return self._enqueue({"message": self._user_message(chat_id, user, chat_type, None, None, content)})

    def user_sends_content(
        self, chat_id: int, content: Mapping[str, Any], user: UserSpec = None, chat_type: str = "private"
    ) -> JSON:
        """Enqueue a message with arbitrary content (``{"sticker": {...}}``, ``{"location": {...}}`` …)."""
        return self._enqueue({"message": self._user_message(chat_id, user, chat_type, None, None, content)})

    def user_edits(self, chat_id: int, message_id: int, text: str) -> JSON:
        """Enqueue an ``edited_message`` update for one of the users' messages."""
        message = self._messages[(chat_id, message_id)]
        message.update(text=text, entities=_text_entities(text), edit_date=int(time.time()))
        return self._enqueue({"edited_message": copy.deepcopy(message)})

    def bot_member_status(self, chat_id: int, status: str, by: UserSpec = None) -> JSON:
        """Enqueue a ``my_chat_member`` update: the bot's status in a chat changed (e.g. "kicked", "left")."""
        chat = self._chats[chat_id]
        sender = self._resolve_user(by, chat_id, chat["type"])
        bot = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        if status in ("kicked", "left"):
            self._blocked.add(chat_id)
        update = {
            "chat": copy.deepcopy(chat),
            "from": sender,
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": bot},
            "new_chat_member": {"status": status, "user": bot, **({"until_date": 0} if status == "kicked" else {})},
        }
        return self._enqueue({"my_chat_member": update})

    def user_presses(self, chat_id: int, message_id: int, callback_data: str, user: UserSpec = None) -> JSON:
        """Enqueue a callback query for an inline button on one of the bot's messages."""
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise LookupError(f"no message {message_id} in chat {chat_id}")
        chat = self._chats[chat_id]
        sender = self._resolve_user(user, chat_id, chat["type"])
        query_id = str(secrets.randbits(63))
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": sender,
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(hash((chat_id, self.bot_user["id"]))) % 10**18),
            "data": callback_data,
        }
        return self._enqueue({"callback_query": query})

    def add_chat(self, chat_id: int, chat_type: str = "private", title: str | None = None) -> JSON:
        """Make a chat known (as if the user had started the bot or added it to a group)."""
        user = self._resolve_user(None, chat_id, chat_type)
        return self._ensure_chat(chat_id, chat_type, user, title)

    def set_member(self, chat_id: int, user: UserSpec, status: str = "member") -> None:
        """Set a user's status in a chat (member, administrator, creator, left, kicked)."""
        chat = self._chats[chat_id]
        resolved = self._resolve_user(user, chat_id, chat["type"])
        self._members.setdefault(chat_id, {})[resolved["id"]] = status

    # ------------------------------------------------------------------------------ inspection

    def sent(self, chat_id: int | None = None) -> list[JSON]:
        """Messages the bot sent (one per successful call), oldest first."""
        return [copy.deepcopy(m) for m in self._sent if chat_id is None or m["chat"]["id"] == chat_id]

    def sent_counts(self) -> Counter[int]:
        """How many messages the bot sent to each chat (cheap: no copies, one pass)."""
        return Counter(m["chat"]["id"] for m in self._sent)

    def edits(self, chat_id: int | None = None) -> list[JSON]:
        """Edited messages as returned to the bot, one per successful edit call."""
        return [copy.deepcopy(m) for m in self._edits if chat_id is None or m["chat"]["id"] == chat_id]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """The current state of a message (after edits), or None if unknown or deleted."""
        found = self._messages.get((chat_id, message_id))
        return copy.deepcopy(found) if found else None

    def commands(self, scope: Mapping[str, Any] | None = None, language_code: str = "") -> list[JSON]:
        """Commands set with setMyCommands for the scope (default scope if None) and language."""
        return copy.deepcopy(self._commands.get((self._scope_key(scope), language_code), []))

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every API request received (also failed ones), optionally only for ``method``."""
        return [c for c in self._calls if method is None or c.method.lower() == method.lower()]

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by the bot."""
        return copy.deepcopy(self._updates)

    @property
    def waiting_polls(self) -> int:
        """Number of getUpdates long polls currently waiting for updates."""
        return self._waiting_polls

    @property
    def webhook_url(self) -> str | None:
        """The URL set by setWebhook, if any."""
        return self._webhook.url if self._webhook else None

    async def wait_sent(self, chat_id: int | None = None, count: int = 1, timeout: float = 5.0) -> list[JSON]:
        """Wait until the bot has sent at least ``count`` messages (to ``chat_id``); return them."""
        await self.wait_for(lambda: len(self.sent(chat_id)) >= count, timeout)
        return self.sent(chat_id)

    # --------------------------------------------------------------------------------- webhook

    async def deliver_via_webhook(
        self, *, max_attempts: int = 3, retry_delay: float = 0.0, timeout: float = 5.0
    ) -> list[WebhookDelivery]:
        """POST pending updates, in order, to the webhook set by the bot, retrying non-2xx answers.

        Stops at the first update that still fails after ``max_attempts``; it stays pending, and
        getWebhookInfo reports the error, like Telegram.  A JSON answer with a ``method`` field is
        executed as a Bot API call, as Telegram does for webhook replies.
        """
        if self._webhook is None:
            raise RuntimeError("the bot has not called setWebhook")
        results: list[WebhookDelivery] = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            while (update := self._next_deliverable()) is not None:
                result = await self._post_update(session, update, max_attempts, retry_delay)
                results.append(result)
                if not result.delivered:
                    break
                self._updates.remove(update)
        return results

    def _next_deliverable(self) -> JSON | None:
        allowed = self._effective_allowed(self._webhook.allowed_updates if self._webhook else None)
        self._updates = [u for u in self._updates if _update_type(u) in allowed]
        return self._updates[0] if self._updates else None

    async def _post_update(
        self, session: aiohttp.ClientSession, update: JSON, max_attempts: int, retry_delay: float
    ) -> WebhookDelivery:
        assert self._webhook is not None
        hook = self._webhook
        headers = {SECRET_HEADER: hook.secret_token} if hook.secret_token else {}
        result = WebhookDelivery(update["update_id"])
        for attempt in range(max_attempts):
            if attempt:
                await asyncio.sleep(retry_delay)
            try:
                async with session.post(hook.url, json=update, headers=headers) as response:
                    result.attempts.append(response.status)
                    if 200 <= response.status < 300:
                        await self._run_webhook_reply(response)
                        result.delivered = True
                        return result
                    reason = f"{response.status} {response.reason}"
                    hook.last_error_message = f"Wrong response from the webhook: {reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                result.attempts.append(type(exc).__name__)
                timed_out = isinstance(exc, TimeoutError)
                hook.last_error_message = "Read timeout expired" if timed_out else str(exc)
            hook.last_error_date = int(time.time())
        return result

    async def _run_webhook_reply(self, response: aiohttp.ClientResponse) -> None:
        if response.content_type != "application/json":
            return
        try:
            body = await response.json()
        except (json.JSONDecodeError, aiohttp.ContentTypeError):
            return
        if isinstance(body, dict) and isinstance(body.get("method"), str):
            method = body.pop("method")
            handler = self._methods.get(method.lower())
            if handler is not None:
                try:
                    await self._invoke(handler, _Params(body))
                    self._calls.append(ApiCall(method, body, 200, None))
                except TelegramApiError as exc:
                    self._calls.append(ApiCall(method, body, exc.code, exc.payload()))

    # --------------------------------------------------------------------------------- routing

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token, method = request.match_info["token"], request.match_info["method"]
        if not _TOKEN_RE.match(token):
            return web.json_response(TelegramApiError(404, "Not Found").payload(), status=404)
        if token != self.token:
            return web.json_response(TelegramApiError(401, "Unauthorized").payload(), status=401)
        try:
            params = await _read_params(request)
        except TelegramApiError as exc:
            return self._error(method, {}, exc)
        await self._maybe_slow(method)
        handler = self._methods.get(method.lower())
        if handler is None:
            return self._error(method, params, TelegramApiError(404, "Not Found: method not found"))
        fault = self._take_fault(method)
        if fault is not None:
            return self._fault_response(method, params, fault)
        try:
            result = await self._invoke(handler, _Params(params))
        except TelegramApiError as exc:
            return self._error(method, params, exc)
        body = {"ok": True, "result": result}
        self._calls.append(ApiCall(method, _loggable(params), 200, body))
        return web.json_response(body)

    @staticmethod
    async def _invoke(handler: Callable[[_Params], Any], params: _Params) -> Any:
        result = handler(params)
        return await result if inspect.isawaitable(result) else result

    def _error(self, method: str, params: Mapping[str, Any], exc: TelegramApiError) -> web.Response:
        body = exc.payload()
        self._calls.append(ApiCall(method, _loggable(params), exc.code, body))
        return web.json_response(body, status=exc.code)

    async def _maybe_slow(self, method: str) -> None:
        delay = self._slow.get(method.lower(), self._slow.get(None, 0.0))
        if delay > 0:
            await asyncio.sleep(delay)

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method in (None, method.lower()):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_response(self, method: str, params: Mapping[str, Any], fault: Fault) -> web.Response:
        if fault.status == 502:
            self._calls.append(ApiCall(method, _loggable(params), 502, None))
            return web.Response(status=502, text=_BAD_GATEWAY_HTML, content_type="text/html")
        if fault.status == 429:
            description = fault.description or f"Too Many Requests: retry after {fault.retry_after}"
            error = TelegramApiError(429, description, {"retry_after": fault.retry_after})
        elif fault.status == 403:
            error = TelegramApiError(403, fault.description or "Forbidden: bot was blocked by the user")
        else:
            error = TelegramApiError(fault.status, fault.description or _phrase(fault.status))
        return self._error(method, params, error)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        stored = next((f for f in self._files.values() if f.path == path and f.data is not None), None)
        if stored is None or stored.data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    # ------------------------------------------------------------------------- users and chats

    def _resolve_user(self, spec: UserSpec, chat_id: int, chat_type: str) -> JSON:
        if isinstance(spec, Mapping):
            user_id = int(spec.get("id", chat_id if chat_type == "private" else 1001))
            base = dict(spec)
        else:
            user_id = spec if spec is not None else (chat_id if chat_type == "private" else 1001)
            if user_id in self._users:
                return copy.deepcopy(self._users[user_id])
            base = {}
        user: JSON = {
            "id": user_id,
            "is_bot": False,
            "first_name": "Test",
            "last_name": f"User{user_id}",
            "username": f"user{user_id}",
            "language_code": "en",
        }
        user.update(base)
        self._users[user_id] = user
        return copy.deepcopy(user)

    def _ensure_chat(self, chat_id: int, chat_type: str, user: JSON, title: str | None) -> JSON:
        if chat_id not in self._chats:
            chat: JSON
            if chat_type == "private":
                chat = {k: user[k] for k in ("first_name", "last_name", "username") if k in user}
                chat.update(id=chat_id, type="private")
            elif chat_type in ("group", "supergroup", "channel"):
                if chat_id > 0:
                    raise ValueError("group, supergroup and channel ids are negative in Telegram")
                chat = {"id": chat_id, "type": chat_type, "title": title or "Test group"}
            else:
                raise ValueError(f"unknown chat type {chat_type!r}")
            self._chats[chat_id] = chat
        self._members.setdefault(chat_id, {}).setdefault(user["id"], "member")
        return copy.deepcopy(self._chats[chat_id])

    @staticmethod
    def _caption(caption: str | None) -> JSON:
        return {"caption": caption, "caption_entities": _text_entities(caption)} if caption else {}

    def _user_message(
        self,
        chat_id: int,
        user: UserSpec,
        chat_type: str,
        title: str | None,
        reply_to: int | None,
        content: Mapping[str, Any],
    ) -> JSON:
        """Store a message from a user (empty fields left out) and return a copy."""
        sender = self._resolve_user(user, chat_id, chat_type)
        chat = self._ensure_chat(chat_id, chat_type, sender, title)
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
        }
        if reply_to is not None and (chat_id, reply_to) in self._messages:
            message["reply_to_message"] = _without_reply(self._messages[(chat_id, reply_to)])
        message.update({k: v for k, v in content.items() if v not in (None, [], "")})
        self._messages[(chat_id, message["message_id"])] = message
        return copy.deepcopy(message)

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _enqueue(self, payload: JSON) -> JSON:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._notify()
        return copy.deepcopy(update)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _target_chat(self, params: _Params) -> JSON:
        raw = params.raw("chat_id")
        if raw in (None, ""):
            raise _bad_request("chat_id is empty")
        chat: JSON | None
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self._chats.values() if c.get("username") == raw[1:]), None)
        else:
            chat = self._chats.get(params.integer("chat_id") or 0)
        if chat is None:
            raise _bad_request("chat not found")
        return chat

    def _check_can_send(self, chat: JSON) -> None:
        if chat["id"] in self._blocked:
            if chat["type"] == "private":
                raise TelegramApiError(403, "Forbidden: bot was blocked by the user")
            raise TelegramApiError(403, "Forbidden: bot was kicked from the group chat")

    def _check_flood(self, chat: JSON) -> None:
        if self._flood is None:
            return
        wait = self._flood.acquire(chat)
        if wait:
            raise TelegramApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    # --------------------------------------------------------------------------- message parts

    def _formatted(
        self, params: _Params, text_field: str, entities_field: str, limit: int, too_long: str
    ) -> tuple[str, list[JSON]]:
        text = params.text(text_field) or ""
        parse_mode = (params.text("parse_mode") or "").lower()
        if parse_mode == "html":
            try:
                text, entities = parse_html(text)
            except HtmlParseError as exc:
                raise _bad_request(f"can't parse entities: {exc}") from None
        elif parse_mode in ("", "markdown", "markdownv2"):
            entities = params.obj(entities_field) or []
        else:
            raise _bad_request("unsupported parse_mode")
        if len(text) > limit:
            raise _bad_request(too_long)
        return text, entities

    @staticmethod
    def _inline_markup(params: _Params) -> JSON | None:
        """Validate reply_markup; return it if it is an inline keyboard (Telegram echoes only those)."""
        markup = params.obj("reply_markup")
        if not markup:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None
        for row in markup["inline_keyboard"]:
            for button in row:
                if not button.get("text"):
                    raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise _bad_request("BUTTON_DATA_INVALID")
                if len(button) < 2:
                    raise _bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                    )
        return markup

    def _reply_target(self, chat: JSON, params: _Params) -> JSON | None:
        reply = params.obj("reply_parameters") or {}
        message_id = reply.get("message_id") if isinstance(reply, dict) else None
        message_id = message_id or params.integer("reply_to_message_id")
        if not message_id:
            return None
        target = self._messages.get((chat["id"], int(message_id)))
        if target is None:
            if isinstance(reply, dict) and reply.get("allow_sending_without_reply"):
                return None
            raise _bad_request("message to be replied not found")
        return _without_reply(target)

    def _bot_message(self, chat: JSON, **content: Any) -> JSON:
        message: JSON = {
            "message_id": self._next_message_id(chat["id"]),
            "from": {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")},
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
        }
        message.update({k: v for k, v in content.items() if v not in (None, [], "")})
        self._messages[(chat["id"], message["message_id"])] = message
        self._sent.append(copy.deepcopy(message))
        if self.on_send is not None:
            self.on_send(message)
        return copy.deepcopy(message)

    # ----------------------------------------------------------------------------- Bot API: core

    def _get_me(self, params: _Params) -> JSON:
        return copy.deepcopy(self.bot_user)

    @staticmethod
    def _effective_allowed(allowed: list[str] | set[str] | None) -> set[str]:
        if allowed:
            return set(allowed)
        known = {"message", "edited_message", "channel_post", "edited_channel_post", "callback_query"}
        known |= {"inline_query", "chosen_inline_result", "my_chat_member", "chat_join_request", "poll"}
        known |= {"poll_answer", "shipping_query", "pre_checkout_query", "business_message"}
        return known

    async def _get_updates(self, params: _Params) -> list[JSON]:
        if self._webhook is not None:
            raise TelegramApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.integer("offset", 0) or 0
        limit = min(max(params.integer("limit", 100) or 100, 1), 100)
        timeout = max(params.number("timeout"), 0.0)
        if params.raw("allowed_updates") is not None:
            self._allowed_updates = set(params.obj("allowed_updates") or [])
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # a newer getUpdates terminates the older one, as on Telegram
        deadline = time.monotonic() + timeout
        while True:
            changed = self._changed
            ready = self._ready_updates(limit)
            if ready or self._closing or time.monotonic() >= deadline:
                return ready
            if generation != self._poll_generation:
                raise TelegramApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            self._waiting_polls += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), deadline - time.monotonic())
            finally:
                self._waiting_polls -= 1

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    def _ready_updates(self, limit: int) -> list[JSON]:
        allowed = self._effective_allowed(self._allowed_updates)
        self._updates = [u for u in self._updates if _update_type(u) in allowed]
        return copy.deepcopy(self._updates[:limit])

    def _send_message(self, params: _Params) -> JSON:
        chat = self._target_chat(params)
        text, entities = self._formatted(params, "text", "entities", MAX_TEXT_LENGTH, "message is too long")
        if not text.strip():
            raise _bad_request("message text is empty")
        markup = self._inline_markup(params)
        reply = self._reply_target(chat, params)
        self._check_can_send(chat)
        self._check_flood(chat)
        content = {"text": text, "entities": entities, "reply_markup": markup, "reply_to_message": reply}
        return self._bot_message(chat, **content)

    def _editable(self, params: _Params) -> JSON:
        if params.has("inline_message_id"):
            raise _bad_request("inline messages are not supported by the fake")
        chat = self._target_chat(params)
        message = self._messages.get((chat["id"], params.integer("message_id") or 0))
        if message is None:
            raise _bad_request("message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise _bad_request("message can't be edited")
        return message

    def _apply_edit(self, message: JSON, changes: JSON) -> JSON:
        if all(message.get(k) == v for k, v in changes.items()):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly the same"
                " as a current content and reply markup of the message"
            )
        for key, value in changes.items():
            if value in (None, []):
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = int(time.time())
        self._edits.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    def _edit_message_text(self, params: _Params) -> JSON:
        message = self._editable(params)
        if "text" not in message:
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities", MAX_TEXT_LENGTH, "MESSAGE_TOO_LONG")
        if not text.strip():
            raise _bad_request("text must be non-empty")
        changes = {"text": text, "entities": entities or None, "reply_markup": self._inline_markup(params)}
        return self._apply_edit(message, changes)

    def _edit_message_reply_markup(self, params: _Params) -> JSON:
        message = self._editable(params)
        return self._apply_edit(message, {"reply_markup": self._inline_markup(params)})

    def _delete_message(self, params: _Params) -> bool:
        chat = self._target_chat(params)
        key = (chat["id"], params.integer("message_id") or 0)
        if self._messages.pop(key, None) is None:
            raise _bad_request("message to delete not found")
        self.deleted.append(key)
        return True

    def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.text("callback_query_id") or ""
        if query_id not in self._open_queries:
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        if len(params.text("text") or "") > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        answer = {
            "callback_query_id": query_id,
            "text": params.text("text"),
            "show_alert": params.flag("show_alert"),
            "url": params.text("url"),
            "cache_time": params.integer("cache_time", 0),
        }
        self.callback_answers.append(answer)
        return True

    # ------------------------------------------------------------------------- Bot API: commands

    @staticmethod
    def _scope_key(scope: Any) -> str:
        return json.dumps(scope or {"type": "default"}, sort_keys=True)

    def _commands_key(self, params: _Params) -> tuple[str, str]:
        language = params.text("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad_request("invalid language code specified")
        return self._scope_key(params.obj("scope")), language

    def _set_my_commands(self, params: _Params) -> bool:
        commands = params.obj("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("commands must be a list of at most 100 BotCommand")
        for command in commands:
            if not _COMMAND_RE.match(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        cleaned = [{"command": c["command"], "description": c["description"]} for c in commands]
        self._commands[self._commands_key(params)] = cleaned
        return True

    def _get_my_commands(self, params: _Params) -> list[JSON]:
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: _Params) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    # ---------------------------------------------------------------------------- Bot API: files

    def _store_file(self, kind: str, **attrs: Any) -> _StoredFile:
        prefix = {"photo": "AgACAgIAAxkBAA", "document": "BQACAgIAAxkBAA"}[kind]
        number = len(self._files) + 1
        stored = _StoredFile(
            file_id=prefix + secrets.token_urlsafe(24),
            file_unique_id="AQAD" + secrets.token_urlsafe(9),
            kind=kind,
            path=f"{kind}s/file_{number}" + (".jpg" if kind == "photo" else ""),
            **attrs,
        )
        self._files[stored.file_id] = stored
        return stored

    def _input_file(self, params: _Params, name: str, kind: str) -> _StoredFile:
        value = params.raw(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.raw(value.removeprefix("attach://"))
        if isinstance(value, web.FileField):
            data = value.file.read()
            mime = value.content_type if kind == "document" else "image/jpeg"
            return self._store_file(kind, data=data, file_name=value.filename, mime_type=mime)
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self._store_file(kind, data=None, url=value, file_name=value.rsplit("/", 1)[-1])
        if value in (None, ""):
            raise _bad_request(f"there is no {name} in the request")
        raise _bad_request("wrong file identifier/HTTP URL specified")

    @staticmethod
    def _photo_sizes(stored: _StoredFile) -> list[JSON]:
        width, height = _image_size(stored.data)
        size = len(stored.data) if stored.data is not None else 0
        return [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": width,
                "height": height,
                "file_size": size,
            }
        ]

    @staticmethod
    def _document(stored: _StoredFile) -> JSON:
        document: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        extra = {"file_name": stored.file_name, "mime_type": stored.mime_type}
        document.update({k: v for k, v in extra.items() if v})
        if stored.data is not None:
            document["file_size"] = len(stored.data)
        return document

    def _send_media(self, params: _Params, kind: str) -> JSON:
        chat = self._target_chat(params)
        caption, entities = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION_LENGTH, "message caption is too long"
        )
        stored = self._input_file(params, kind, kind)
        markup = self._inline_markup(params)
        reply = self._reply_target(chat, params)
        self._check_can_send(chat)
        self._check_flood(chat)
        media = self._photo_sizes(stored) if kind == "photo" else self._document(stored)
        content = {kind: media, "caption": caption, "caption_entities": entities}
        return self._bot_message(chat, reply_markup=markup, reply_to_message=reply, **content)

    def _send_photo(self, params: _Params) -> JSON:
        return self._send_media(params, "photo")

    def _send_document(self, params: _Params) -> JSON:
        return self._send_media(params, "document")

    def _get_file(self, params: _Params) -> JSON:
        stored = self._files.get(params.text("file_id") or "")
        if stored is None:
            raise _bad_request("invalid file_id")
        result: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.data is not None:
            result.update(file_size=len(stored.data), file_path=stored.path)
        return result

    def _send_chat_action(self, params: _Params) -> bool:
        chat = self._target_chat(params)
        action = params.text("action") or ""
        if action not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        self._check_can_send(chat)
        self.chat_actions.append({"chat_id": chat["id"], "action": action})
        return True

    # -------------------------------------------------------------------------- Bot API: webhook

    def _set_webhook(self, params: _Params) -> bool:
        url = params.text("url") or ""
        if not url:
            return self._delete_webhook(params)
        if not url.startswith(("https://", "http://")):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.text("secret_token")
        if secret is not None and not _SECRET_RE.match(secret):
            raise _bad_request("secret token contains unallowed characters")
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        allowed = params.obj("allowed_updates")
        max_connections = params.integer("max_connections", 40) or 40
        self._webhook = _Webhook(url, secret, allowed, max_connections)
        self._notify()
        return True

    def _delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        self._webhook = None
        return True

    def _get_webhook_info(self, params: _Params) -> JSON:
        info: JSON = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}
        hook = self._webhook
        if hook is not None:
            info.update(url=hook.url, max_connections=hook.max_connections, ip_address="127.0.0.1")
            if hook.allowed_updates:
                info["allowed_updates"] = hook.allowed_updates
            if hook.last_error_date is not None:
                info.update(last_error_date=hook.last_error_date, last_error_message=hook.last_error_message)
        return info

    # ----------------------------------------------------------------------------- Bot API: chats

    def _get_chat(self, params: _Params) -> JSON:
        chat = copy.deepcopy(self._target_chat(params))
        chat.update(accent_color_id=0, max_reaction_count=11)
        chat["accepted_gift_types"] = {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        }
        return chat

    def _get_chat_member(self, params: _Params) -> JSON:
        chat = self._target_chat(params)
        user_id = params.integer("user_id") or 0
        if user_id == self.bot_user["id"]:
            return {"status": "member", "user": copy.deepcopy(self.bot_user)}
        status = self._members.get(chat["id"], {}).get(user_id)
        if status is None or user_id not in self._users:
            raise _bad_request("user not found")
        member: JSON = {"status": status, "user": copy.deepcopy(self._users[user_id])}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "kicked":
            member["until_date"] = 0
        elif status == "administrator":
            member.update(
                dict.fromkeys(
                    (
                        "can_be_edited",
                        "is_anonymous",
                        "can_manage_chat",
                        "can_delete_messages",
                        "can_manage_video_chats",
                        "can_restrict_members",
                        "can_promote_members",
                        "can_change_info",
                        "can_invite_users",
                        "can_post_stories",
                        "can_edit_stories",
                        "can_delete_stories",
                    ),
                    False,
                )
            )
            member["can_manage_chat"] = True
        return member
