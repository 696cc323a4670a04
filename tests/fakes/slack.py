"""A local fake of Slack (Web API, Events API over HTTP, Socket Mode) for the unmodified slack-sdk and bolt.

Web API::

    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        await client.chat_postMessage(channel="C0GENERAL", text="hi")
        assert slack.posted("C0GENERAL")[-1]["text"] == "hi"

Events over HTTP (signed like Slack, retried like Slack)::

    slack.configure_http("http://127.0.0.1:8080/slack/events", signing_secret)
    delivery = await slack.user_says("hello")          # POSTs an event_callback to the app
    assert delivery.attempts == [200]

Several request URLs stand for replicas behind a load balancer: deliveries take turns, a retry goes
to the next URL (``await slack.retry(delivery)`` resends one as Slack does after a slow answer).

Message metadata (``metadata`` on chat.postMessage) is kept and returned by conversations.history
and conversations.replies when asked with ``include_all_metadata``, in Slack's wire shape
(``messages[].metadata.event_type`` / ``event_payload``).

Files: ``add_file`` plays a user's upload (files.info and its ``url_private`` serve it, with the bot token);
the app's uploads take Slack's current flow — files.getUploadURLExternal answers an ``upload_url`` on the
fake, a POST of the bytes there keeps them, files.completeUploadExternal shares the file into ``channel_id``
(and ``thread_ts``) as a bot message with a ``files`` entry, listed by :meth:`FakeSlack.posted`.

Socket Mode (the app connects with its xapp- token; envelopes are redelivered until acked)::

    delivery = await slack.user_says("hello")          # queued until the app connects
    await delivery.wait_acked()

Not modelled: Slack's per-method rate tiers (script 429s with :meth:`FakeSlack.inject`), modals
(views.open/update), multi-person DMs, the deprecated files.upload, and Block Kit validation beyond basic shape.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import json
import mimetypes
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from tests.fakes.served import ServedFake

JSON = dict[str, Any]

DEFAULT_BOT_TOKEN = "xoxb-0000000000-0000000000000-FakeBotTokenForTests"
DEFAULT_APP_TOKEN = "xapp-1-A0FAKEAPP01-0000000000000-FakeAppTokenForTests"
DEFAULT_SIGNING_SECRET = "fake-signing-secret-for-local-tests"
DEFAULT_USER = "U0FAKEUSER1"
DEFAULT_CHANNEL = "C0GENERAL"
MAX_TEXT_LENGTH = 40_000
MAX_BLOCKS = 50

_JSON_FIELDS = frozenset({"blocks", "attachments", "view", "metadata", "files"})
_TRUE = (True, "true", "1", 1)
MAX_HISTORY_PAGE = 999
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


class SlackApiError(Exception):
    """An ``{"ok": false, "error": ...}`` answer of the fake Web API."""

    def __init__(self, error: str, status: int = 200) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


@dataclass
class Fault:
    """A scripted failure for the next ``times`` calls of ``method`` (any method if None)."""

    method: str | None
    status: int
    times: int
    retry_after: int
    error: str | None = None


@dataclass
class ApiCall:
    """One Web API request: method, decoded parameters, HTTP status and JSON answer."""

    method: str
    params: JSON
    status: int
    response: JSON


@dataclass
class Delivery:
    """One event, interaction or slash command sent to the app, over HTTP or Socket Mode.

    ``attempts`` holds the HTTP status (or ``"http_timeout"``/``"connection_failed"``) of each HTTP
    attempt, or ``"sent"`` for each Socket Mode (re)delivery.
    """

    kind: str
    payload: JSON
    envelope_id: str | None = None
    attempts: list[int | str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)  # the request URL of each HTTP attempt
    response_body: bytes = b""
    ack_payload: JSON | None = None
    acked: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ok(self) -> bool:
        """True once the app acknowledged the delivery (2xx answer or Socket Mode ack)."""
        return self.acked.is_set()

    async def wait_acked(self, timeout: float = 5.0) -> JSON | None:
        """Wait for the app's acknowledgement; return the ack payload, if any."""
        await asyncio.wait_for(self.acked.wait(), timeout)
        return self.ack_payload


@dataclass
class _HttpTarget:
    urls: tuple[str, ...]
    signing_secret: str
    turn: int = 0  # deliveries so far: the next one starts at urls[turn % len(urls)]

    def url(self, delivery: int, attempt: int) -> str:
        """Where attempt `attempt` of the `delivery`-th delivery goes: round robin over the URLs."""
        return self.urls[(delivery + attempt) % len(self.urls)]

    def after(self, url: str) -> str:
        """The URL after `url`: where a retry of a request that went to `url` lands."""
        return self.urls[(self.urls.index(url) + 1) % len(self.urls)] if url in self.urls else self.urls[0]


@dataclass
class _SentRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def sign(signing_secret: str, timestamp: int | str, body: bytes) -> str:
    """Slack's request signature: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def _random_id(prefix: str, length: int = 10) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _rich_text(text: str) -> list[JSON]:
    elements = [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]
    return [{"type": "rich_text", "block_id": _random_id("", 5).lower(), "elements": elements}]


def _find_action(blocks: Iterable[Mapping[str, Any]], action_id: str) -> tuple[str, JSON] | None:
    """The (block_id, element) of the interactive element with ``action_id`` in ``blocks``."""
    for block in blocks:
        candidates = list(block.get("elements", []))
        if "accessory" in block:
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, Mapping) and element.get("action_id") == action_id:
                return str(block.get("block_id", "")), dict(element)
    return None


async def _read_params(request: web.Request) -> JSON:
    params: JSON = dict(request.query)
    if request.content_type == "application/json":
        body = await request.read()
        if body:
            data = json.loads(body)
            if isinstance(data, dict):
                params.update(data)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        params.update(await request.post())
    for name in _JSON_FIELDS & params.keys():
        if isinstance(params[name], str):
            try:
                params[name] = json.loads(params[name])
            except json.JSONDecodeError:
                raise SlackApiError(f"invalid_{name}") from None
    return params


class FakeSlack(ServedFake):
    """An in-process Slack server (aiohttp) plus helpers that play the users' side.

    Args:
        bot_token: the ``xoxb-`` token the Web API accepts.
        app_token: the ``xapp-`` token accepted by apps.connections.open (Socket Mode).
        tokens: further bot tokens to accept.
        ack_timeout: seconds Socket Mode waits for an ack before redelivering an event.
        max_retries: how often a failed or un-acked delivery is retried (HTTP and Socket Mode).
        http_timeout: seconds an HTTP delivery waits for the app's answer (Slack: 3).
        retry_delays: pause before each HTTP retry (Slack waits ~0 s, 1 min, 5 min; tests want 0).
        redeliver: delivery kinds that are retried; Slack retries only ``events_api``, while
            interactions and slash commands that fail just show the user an error.
    """

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        tokens: Iterable[str] = (),
        team_id: str = "T0FAKETEAM1",
        team_domain: str = "fake-team",
        api_app_id: str = "A0FAKEAPP01",
        bot_user_id: str = "U0FAKEBOT01",
        bot_id: str = "B0FAKEBOT01",
        ack_timeout: float = 3.0,
        max_retries: int = 3,
        http_timeout: float = 3.0,
        retry_delays: tuple[float, ...] = (0.0, 0.0, 0.0),
        redeliver: Iterable[str] = ("events_api",),
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self._bot_tokens = {bot_token, *tokens}
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.verification_token = "fakeVerificationToken"
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self.http_timeout = http_timeout
        self.retry_delays = retry_delays
        self.redeliver = frozenset(redeliver)
        self._base_url = ""
        # workspace state
        self._users: dict[str, JSON] = {}
        self._channels: dict[str, JSON] = {}
        self._messages: dict[tuple[str, str], JSON] = {}
        self._files: dict[str, JSON] = {}
        self._file_data: dict[str, bytes] = {}
        self._uploads: dict[str, JSON] = {}  # files.getUploadURLExternal: file id → name and announced length
        self._home_views: dict[str, JSON] = {}
        self._ts_counter = 0
        # logs
        self._posted: list[JSON] = []
        self.updates: list[JSON] = []
        self.ephemeral: list[JSON] = []
        self.views: list[JSON] = []
        self.responses: list[JSON] = []
        self.deliveries: list[Delivery] = []
        self._calls: list[ApiCall] = []
        # faults
        self._faults: list[Fault] = []
        self._slow: dict[str | None, float] = {}
        # event delivery
        self._http: _HttpTarget | None = None
        self._last_request: _SentRequest | None = None
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._outbox: list[Delivery] = []
        self._watchers: set[asyncio.Task[None]] = set()
        self._methods: dict[str, Callable[[JSON, str], JSON]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "users.info": self._users_info,
            "views.publish": self._views_publish,
            "apps.connections.open": self._apps_connections_open,
            "files.info": self._files_info,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }
        self.add_user(DEFAULT_USER, name="alice", real_name="Alice Example")
        self.add_channel(DEFAULT_CHANNEL, "general")

    # ------------------------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving; return the base URL (``http://host:port``)."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/link/", self._handle_socket)
        app.router.add_post("/response/{id}", self._handle_response_url)
        app.router.add_get("/files-pri/{id}/{name}", self._handle_file)
        app.router.add_post("/upload/v1/{id}", self._handle_upload)
        return await self._serve(app, host, port)

    async def stop(self) -> None:
        """Close Socket Mode connections, stop redelivery and shut the server down."""
        for task in list(self._watchers):
            task.cancel()
        for ws in list(self._sockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server shutdown")
        await self._shut_down()

    @property
    def api_url(self) -> str:
        """Value for slack-sdk's ``base_url``."""
        return f"{self._base_url}/api/"

    # ---------------------------------------------------------------------------- workspace setup

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        locale: str = "en-US",
        tz: str = "Europe/Berlin",
        tz_offset: int = 3600,
        is_admin: bool = False,
    ) -> JSON:
        """Add (or replace) a workspace member; returns the users.info ``user`` object."""
        name = name or user_id.lower()
        real_name = real_name or name.title()
        profile = {
            "real_name": real_name,
            "display_name": name,
            "real_name_normalized": real_name,
            "display_name_normalized": name,
            "email": email or f"{name}@example.org",
            "image_72": f"https://example.org/avatars/{user_id}_72.png",
            "team": self.team_id,
        }
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": tz_offset,
            "locale": locale,
            "profile": profile,
            "is_admin": is_admin,
            "is_owner": False,
            "is_bot": False,
            "is_app_user": False,
            "updated": int(time.time()),
        }
        self._users[user_id] = user
        return copy.deepcopy(user)

    def add_channel(self, channel_id: str, name: str, *, is_private: bool = False) -> JSON:
        """Add a public (C…) or private (G…/C…) channel."""
        channel = {
            "id": channel_id,
            "name": name,
            "name_normalized": name,
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "is_archived": False,
            "is_general": name == "general",
            "is_member": True,
            "created": int(time.time()),
            "creator": DEFAULT_USER,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        self._channels[channel_id] = channel
        return copy.deepcopy(channel)

    def dm_channel(self, user_id: str) -> str:
        """The id of the bot's direct-message channel with ``user_id`` (created on first use)."""
        channel_id = "D" + user_id[1:]
        if channel_id not in self._channels:
            self._channels[channel_id] = {
                "id": channel_id,
                "created": int(time.time()),
                "is_im": True,
                "is_org_shared": False,
                "user": user_id,
                "is_user_deleted": False,
                "priority": 0,
            }
        return channel_id

    def add_file(
        self, data: bytes, name: str = "notes.txt", *, mimetype: str = "text/plain", user: str = DEFAULT_USER
    ) -> JSON:
        """Store a file as if a user had uploaded it; files.info and its url_private serve it."""
        return self._keep_file(_random_id("F"), data, name, mimetype, user)

    def _keep_file(self, file_id: str, data: bytes, name: str, mimetype: str, user: str) -> JSON:
        url = f"{self._base_url}/files-pri/{file_id}/{name}"
        info = {
            "id": file_id,
            "created": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
            "user": user,
            "size": len(data),
            "url_private": url,
            "url_private_download": url,
            "is_public": False,
        }
        self._files[file_id] = info
        self._file_data[file_id] = data
        return copy.deepcopy(info)

    # ------------------------------------------------------------------------------ fault control

    def inject(
        self,
        method: str | None = None,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: int = 30,
        error: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (429 with Retry-After, 5xx, or ok:false)."""
        self._faults.append(Fault(method, status, times, retry_after, error))

    def slow(self, seconds: float, method: str | None = None) -> None:
        """Delay answers of ``method`` by ``seconds``; without a method, of all methods (``slow(0)`` resets)."""
        if method is None:
            self._slow = {None: seconds}
        else:
            self._slow[method] = seconds

    # --------------------------------------------------------------------------------- inspection

    def posted(self, channel: str | None = None) -> list[JSON]:
        """Messages the app posted with chat.postMessage or shared files in (one per successful call)."""
        return [copy.deepcopy(m) for m in self._posted if channel is None or m["channel"] == channel]

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every Web API request received, optionally only for ``method``."""
        return [c for c in self._calls if method is None or c.method == method]

    def message(self, channel: str, ts: str) -> JSON | None:
        """The current state of a message (after updates), or None."""
        found = self._messages.get((channel, ts))
        return copy.deepcopy(found) if found else None

    def home_view(self, user_id: str) -> JSON | None:
        """The App Home view last published for ``user_id``."""
        view = self._home_views.get(user_id)
        return copy.deepcopy(view) if view else None

    @property
    def socket_connections(self) -> int:
        """Number of open Socket Mode connections."""
        return sum(1 for ws in self._sockets if not ws.closed)

    async def wait_posted(self, channel: str | None = None, count: int = 1, timeout: float = 5.0) -> list[JSON]:
        """Wait until at least ``count`` messages were posted (to ``channel``); return them."""
        await self.wait_for(lambda: len(self.posted(channel)) >= count, timeout)
        return self.posted(channel)

    # --------------------------------------------------------------------------- the users' side

    def configure_http(self, request_url: str | Sequence[str], signing_secret: str = DEFAULT_SIGNING_SECRET) -> None:
        """Deliver events over HTTP to ``request_url``, signed with ``signing_secret``.

        Several URLs stand for replicas behind a load balancer: deliveries take turns, and each retry
        goes to the URL after the one that failed.
        """
        urls = (request_url,) if isinstance(request_url, str) else tuple(request_url)
        if not urls:
            raise ValueError("at least one request URL")
        self._http = _HttpTarget(urls, signing_secret)

    def use_socket_mode(self) -> None:
        """Deliver events over Socket Mode (the default until :meth:`configure_http` is called)."""
        self._http = None

    async def user_says(
        self,
        text: str,
        *,
        user: str = DEFAULT_USER,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> Delivery:
        """A user posts ``text`` in a DM with the bot (default) or in ``channel``: a ``message`` event."""
        channel_id = channel or self.dm_channel(user)
        event = self._user_message(text, user, channel_id, thread_ts)
        event["channel_type"] = self._channel_type(channel_id)
        return await self._deliver("events_api", self._event_callback(event))

    async def user_mentions(
        self,
        text: str,
        *,
        user: str = DEFAULT_USER,
        channel: str = DEFAULT_CHANNEL,
        thread_ts: str | None = None,
    ) -> Delivery:
        """A user mentions the bot in a channel: an ``app_mention`` event."""
        mention = f"<@{self.bot_user_id}>"
        full_text = text if mention in text else f"{mention} {text}"
        event = self._user_message(full_text, user, channel, thread_ts)
        event["type"] = "app_mention"
        return await self._deliver("events_api", self._event_callback(event))

    async def user_opens_home(self, *, user: str = DEFAULT_USER) -> Delivery:
        """A user opens the App Home tab: an ``app_home_opened`` event."""
        ts = self._next_ts()
        event: JSON = {
            "type": "app_home_opened",
            "user": user,
            "channel": self.dm_channel(user),
            "tab": "home",
            "event_ts": ts,
        }
        if user in self._home_views:
            event["view"] = copy.deepcopy(self._home_views[user])
        return await self._deliver("events_api", self._event_callback(event))

    async def user_clicks(
        self,
        action_id: str,
        value: str | None = None,
        *,
        user: str = DEFAULT_USER,
        channel: str | None = None,
        message_ts: str | None = None,
    ) -> Delivery:
        """A user clicks the element ``action_id`` on a bot message: a ``block_actions`` payload.

        Without ``message_ts`` the newest message (in ``channel``, if given) holding the element is used.
        """
        message = self._message_with_action(action_id, channel, message_ts)
        found = _find_action(message.get("blocks", []), action_id)
        block_id, element = found if found else ("", {"type": "button", "text": {"type": "plain_text"}})
        action = {
            "action_id": action_id,
            "block_id": block_id,
            "type": element.get("type", "button"),
            "action_ts": f"{time.time():.6f}",
        }
        if element.get("text"):
            action["text"] = element["text"]
        if value is not None or "value" in element:
            action["value"] = value if value is not None else element["value"]
        payload = self._block_actions(message, action, user)
        return await self._deliver("interactive", payload)

    async def user_runs_command(
        self, command: str = "/helpdesk", text: str = "", *, user: str = DEFAULT_USER, channel: str | None = None
    ) -> Delivery:
        """A user runs a slash command: form fields over HTTP, a ``slash_commands`` envelope in Socket Mode."""
        channel_id = channel or self.dm_channel(user)
        info = self._channels.get(channel_id, {})
        payload = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": info.get("name", "directmessage"),
            "user_id": user,
            "user_name": self._users.get(user, {}).get("name", user.lower()),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self._new_response_url(),
            "trigger_id": self._trigger_id(),
        }
        return await self._deliver("slash_commands", payload)

    async def send_event(self, event: JSON) -> Delivery:
        """Deliver any Events API event (e.g. ``message_changed``, ``channel_left``) in an event_callback."""
        return await self._deliver("events_api", self._event_callback(dict(event)))

    async def verify_url(self) -> Delivery:
        """Send the Events API ``url_verification`` challenge over HTTP."""
        payload = {"token": self.verification_token, "challenge": secrets.token_urlsafe(24), "type": "url_verification"}
        return await self._deliver("events_api", payload)

    # ---------------------------------------------------------------------------- payload builders

    def _next_ts(self) -> str:
        self._ts_counter += 1
        return f"{int(time.time())}.{self._ts_counter:06d}"

    def _channel_type(self, channel_id: str) -> str:
        info = self._channels.get(channel_id, {})
        if info.get("is_im") or channel_id.startswith("D"):
            return "im"
        if info.get("is_mpim"):
            return "mpim"
        return "group" if info.get("is_private") else "channel"

    def _user_message(self, text: str, user: str, channel: str, thread_ts: str | None) -> JSON:
        if user not in self._users:
            self.add_user(user)
        ts = self._next_ts()
        event: JSON = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel": channel,
            "team": self.team_id,
            "client_msg_id": str(uuid.uuid4()),
            "blocks": _rich_text(text),
        }
        if thread_ts:
            parent = self._messages.get((channel, thread_ts))
            event["thread_ts"] = thread_ts
            event["parent_user_id"] = parent.get("user", DEFAULT_USER) if parent else DEFAULT_USER
            self._count_reply(channel, thread_ts, user, ts)
        self._messages[(channel, ts)] = {k: v for k, v in event.items() if k != "event_ts"}
        return event

    def _event_callback(self, event: JSON) -> JSON:
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": _random_id("Ev"),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(30),
        }

    def _message_with_action(self, action_id: str, channel: str | None, ts: str | None) -> JSON:
        if ts is not None:
            if channel is not None:
                found = self._messages.get((channel, ts))
            else:
                found = next((m for (_, t), m in self._messages.items() if t == ts), None)
            if found is None:
                raise LookupError(f"no message with ts {ts}")
            return found
        for message in reversed(list(self._messages.values())):
            if (channel is None or message["channel"] == channel) and _find_action(
                message.get("blocks", []), action_id
            ):
                return message
        raise LookupError(f"no message has an element with action_id {action_id!r}")

    def _block_actions(self, message: JSON, action: JSON, user: str) -> JSON:
        channel_id = message["channel"]
        channel = self._channels.get(channel_id, {})
        user_info = self._users.get(user, {})
        return {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": user_info.get("name", user),
                "name": user_info.get("name", user),
                "team_id": self.team_id,
            },
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": channel.get("name", "directmessage")},
            "message": {k: copy.deepcopy(v) for k, v in message.items() if k != "channel"},
            "state": {"values": {}},
            "response_url": self._new_response_url(),
            "actions": [action],
        }

    def _trigger_id(self) -> str:
        return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**13)}.{secrets.token_hex(16)}"

    def _new_response_url(self) -> str:
        return f"{self._base_url}/response/{self.team_id}-{secrets.token_hex(8)}"

    # ----------------------------------------------------------------------------- event delivery

    async def _deliver(self, kind: str, payload: JSON) -> Delivery:
        delivery = Delivery(kind, payload)
        self.deliveries.append(delivery)
        if self._http is not None:
            await self._deliver_http(delivery, self._http)
        else:
            delivery.envelope_id = str(uuid.uuid4())
            self._send_envelope(delivery)
            await asyncio.sleep(0)
        return delivery

    @staticmethod
    def _encode(kind: str, payload: JSON) -> tuple[bytes, str]:
        if kind == "events_api":
            return json.dumps(payload).encode(), "application/json"
        if kind == "interactive":
            return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"
        return urlencode(payload).encode(), "application/x-www-form-urlencoded"

    async def _deliver_http(self, delivery: Delivery, target: _HttpTarget) -> None:
        """POST like Slack; events are retried (3 s timeout, non-2xx) with retry headers."""
        retries = self.max_retries if delivery.kind in self.redeliver else 0
        turn, target.turn = target.turn, target.turn + 1
        reason = ""
        for attempt in range(retries + 1):
            if attempt:
                delays = self.retry_delays
                await asyncio.sleep(delays[min(attempt - 1, len(delays) - 1)] if delays else 0)
            outcome = await self._attempt(delivery, target.url(turn, attempt), attempt, reason)
            if delivery.acked.is_set():
                return
            reason = outcome if isinstance(outcome, str) else "http_error"

    async def retry(self, delivery: Delivery, reason: str = "http_timeout") -> int | str:
        """Deliver ``delivery`` again as Slack's next retry, to the URL after the one its last attempt went to.

        Slack retries an event whose answer took over 3 s even if the app got it; behind a load
        balancer the retry may well reach another replica. Returns the HTTP status (or the failure).
        """
        if self._http is None:
            raise RuntimeError("call configure_http() first")
        url = self._http.after(delivery.targets[-1]) if delivery.targets else self._http.urls[0]
        return await self._attempt(delivery, url, len(delivery.attempts), reason)

    async def _attempt(self, delivery: Delivery, url: str, retry_num: int, reason: str) -> int | str:
        """One signed POST of a delivery (attempt `retry_num`, with Slack's retry headers after the first)."""
        body, content_type = self._encode(delivery.kind, delivery.payload)
        extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": reason} if retry_num else {}
        outcome, answer = await self._post(self._signed_request(body, content_type, url=url, extra_headers=extra))
        delivery.attempts.append(outcome)
        delivery.targets.append(url)
        if isinstance(outcome, int) and 200 <= outcome < 300:
            delivery.response_body = answer
            delivery.ack_payload = self._ack_payload(answer)
            delivery.acked.set()
        return outcome

    @staticmethod
    def _ack_payload(body: bytes) -> JSON | None:
        """The app's answer as Slack reads it: a JSON object, or plain text taken as message text."""
        if not body.strip():
            return None
        try:
            value = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {"text": body.decode("utf-8", "replace")}
        return value if isinstance(value, dict) else None

    async def post_signed(
        self,
        body: bytes,
        content_type: str = "application/json",
        *,
        timestamp: int | None = None,
        signing_secret: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> int | str:
        """POST ``body`` to the configured request URL with Slack's signature headers.

        Returns the HTTP status, or ``"http_timeout"`` / ``"connection_failed"``.  ``timestamp`` and
        ``signing_secret`` override the real ones (to test stale or forged requests).
        """
        request = self._signed_request(
            body, content_type, timestamp=timestamp, signing_secret=signing_secret, extra_headers=extra_headers
        )
        outcome, _ = await self._post(request)
        return outcome

    def _signed_request(
        self,
        body: bytes,
        content_type: str,
        *,
        url: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> _SentRequest:
        if self._http is None:
            raise RuntimeError("call configure_http() first")
        ts = str(timestamp if timestamp is not None else int(time.time()))
        secret = signing_secret if signing_secret is not None else self._http.signing_secret
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(secret, ts, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(extra_headers or {}),
        }
        self._last_request = _SentRequest(url or self._http.urls[0], body, headers)
        return self._last_request

    async def replay_last(self, *, tamper_signature: bool = False) -> int | str:
        """Resend the last request verbatim (same body, timestamp and signature), or with a forged signature."""
        if self._last_request is None:
            raise RuntimeError("nothing has been delivered over HTTP yet")
        request = copy.deepcopy(self._last_request)
        if tamper_signature:
            signature = request.headers["X-Slack-Signature"]
            request.headers["X-Slack-Signature"] = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        outcome, _ = await self._post(request)
        return outcome

    async def _post(self, request: _SentRequest) -> tuple[int | str, bytes]:
        timeout = aiohttp.ClientTimeout(total=self.http_timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(request.url, data=request.body, headers=request.headers) as response,
            ):
                return response.status, await response.read()
        except TimeoutError:
            return "http_timeout", b""
        except aiohttp.ClientError:
            return "connection_failed", b""

    # -------------------------------------------------------------------------------- Socket Mode

    def _envelope(self, delivery: Delivery, retry_attempt: int, retry_reason: str) -> JSON:
        envelope: JSON = {
            "envelope_id": delivery.envelope_id,
            "type": delivery.kind,
            "payload": delivery.payload,
            "accepts_response_payload": delivery.kind == "slash_commands",
        }
        if delivery.kind in self.redeliver:
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        return envelope

    def _open_socket(self) -> web.WebSocketResponse | None:
        live = [ws for ws in self._sockets if not ws.closed]
        return live[-1] if live else None

    def _send_envelope(self, delivery: Delivery, retry_attempt: int = 0, retry_reason: str = "") -> None:
        if self._open_socket() is None:
            self._outbox.append(delivery)
            return
        task = asyncio.ensure_future(self._send_and_watch(delivery, retry_attempt, retry_reason))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _send_and_watch(self, delivery: Delivery, retry_attempt: int, retry_reason: str) -> None:
        """Send one envelope; redeliver it (if its kind is retried) when not acked within ``ack_timeout``."""
        while True:
            ws = self._open_socket()
            if ws is None:
                self._outbox.append(delivery)
                return
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json(self._envelope(delivery, retry_attempt, retry_reason))
                delivery.attempts.append("sent")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(delivery.acked.wait(), self.ack_timeout)
            done = delivery.acked.is_set() or delivery.kind not in self.redeliver
            if done or retry_attempt >= self.max_retries:
                return
            retry_attempt, retry_reason = retry_attempt + 1, "timeout"

    def _flush_outbox(self) -> None:
        pending, self._outbox = self._outbox, []
        for delivery in pending:
            self._send_envelope(delivery)

    async def request_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask connected clients to reconnect, as Slack does every few hours."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.send_json(message)

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``count`` Socket Mode connections are open."""
        await self.wait_for(lambda: self.socket_connections >= count, timeout)

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True, timeout=1.0)
        await ws.prepare(request)
        self._sockets.append(ws)
        try:
            await ws.send_json(self._hello())
            self._flush_outbox()
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._on_ack(message.data)
        finally:
            self._sockets.remove(ws)
        return ws

    def _hello(self) -> JSON:
        return {
            "type": "hello",
            "num_connections": self.socket_connections,
            "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.api_app_id},
        }

    def _on_ack(self, raw: str) -> None:
        try:
            ack = json.loads(raw)
        except json.JSONDecodeError:
            return
        envelope_id = ack.get("envelope_id") if isinstance(ack, dict) else None
        for delivery in self.deliveries:
            if delivery.envelope_id == envelope_id and not delivery.acked.is_set():
                delivery.ack_payload = ack.get("payload")
                delivery.acked.set()

    # ------------------------------------------------------------------------------------ Web API

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await _read_params(request)
        except (SlackApiError, json.JSONDecodeError, ValueError) as exc:
            error = exc.error if isinstance(exc, SlackApiError) else "invalid_json"
            return self._answer(method, {}, {"ok": False, "error": error})
        delay = self._slow.get(method, self._slow.get(None, 0.0))
        if delay > 0:
            await asyncio.sleep(delay)
        handler = self._methods.get(method)
        if handler is None:
            return self._answer(method, params, {"ok": False, "error": "unknown_method", "req_method": method})
        try:
            token = self._authorize(request, params, method)
            fault = self._take_fault(method)
            if fault is not None:
                return self._fault_response(method, params, fault)
            result = handler(params, token)
        except SlackApiError as exc:
            return self._answer(method, params, {"ok": False, "error": exc.error}, exc.status)
        return self._answer(method, params, {"ok": True, **result})

    def _answer(
        self,
        method: str,
        params: Mapping[str, Any],
        body: JSON,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        logged = {k: v for k, v in params.items() if k != "token" and not isinstance(v, web.FileField)}
        self._calls.append(ApiCall(method, logged, status, body))
        return web.json_response(body, status=status, headers=headers)

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method in (None, method):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_response(self, method: str, params: Mapping[str, Any], fault: Fault) -> web.Response:
        if fault.status == 429:
            body = {"ok": False, "error": fault.error or "ratelimited"}
            return self._answer(method, params, body, 429, {"Retry-After": str(fault.retry_after)})
        default = "internal_error" if fault.status >= 500 else "fatal_error"
        return self._answer(method, params, {"ok": False, "error": fault.error or default}, fault.status)

    def _authorize(self, request: web.Request, params: Mapping[str, Any], method: str) -> str:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else params.get("token")
        if not token:
            raise SlackApiError("not_authed")
        if token not in self._bot_tokens and token != self.app_token:
            raise SlackApiError("invalid_auth")
        if (token == self.app_token) != (method in _APP_TOKEN_METHODS):
            raise SlackApiError("not_allowed_token_type")
        return str(token)

    def _channel(self, channel_id: Any) -> JSON:
        if not channel_id:
            raise SlackApiError("channel_not_found")
        channel_id = str(channel_id)
        if channel_id.startswith(("U", "W")) and channel_id in self._users:
            channel_id = self.dm_channel(channel_id)
        if channel_id.startswith("#"):
            channel_id = next((c for c, i in self._channels.items() if i.get("name") == channel_id[1:]), "")
        channel = self._channels.get(channel_id)
        if channel is None:
            raise SlackApiError("channel_not_found")
        return channel

    @staticmethod
    def _check_content(params: Mapping[str, Any]) -> None:
        text, blocks = params.get("text"), params.get("blocks")
        if not text and not blocks and not params.get("attachments"):
            raise SlackApiError("no_text")
        if text and len(str(text)) > MAX_TEXT_LENGTH:
            raise SlackApiError("msg_too_long")
        if blocks is not None:
            if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
                raise SlackApiError("invalid_blocks")
            if not all(isinstance(b, dict) and b.get("type") for b in blocks):
                raise SlackApiError("invalid_blocks")

    def _bot_message(self, params: Mapping[str, Any], ts: str) -> JSON:
        message: JSON = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.api_app_id,
            "text": str(params.get("text") or ""),
            "ts": ts,
            "team": self.team_id,
            "bot_profile": {"id": self.bot_id, "app_id": self.api_app_id, "name": "helpdesk", "deleted": False},
        }
        for key in ("blocks", "attachments", "metadata"):
            if params.get(key):
                message[key] = copy.deepcopy(params[key])
        return message

    def _count_reply(self, channel: str, thread_ts: str, user: str, ts: str) -> None:
        parent = self._messages.get((channel, thread_ts))
        if parent is None:
            return
        parent["thread_ts"] = thread_ts
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        parent["reply_users"] = sorted({*parent.get("reply_users", []), user})
        parent["latest_reply"] = ts

    def _auth_test(self, params: JSON, token: str) -> JSON:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Fake Team",
            "user": "helpdesk",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: JSON, token: str) -> JSON:
        channel = self._channel(params.get("channel"))
        self._check_content(params)
        ts = self._next_ts()
        message = self._bot_message(params, ts)
        thread_ts = params.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            message["parent_user_id"] = self._messages.get((channel["id"], str(thread_ts)), {}).get("user", "")
            self._count_reply(channel["id"], str(thread_ts), self.bot_user_id, ts)
        self._messages[(channel["id"], ts)] = {**message, "channel": channel["id"]}
        self._posted.append({**copy.deepcopy(message), "channel": channel["id"]})
        return {"channel": channel["id"], "ts": ts, "message": message}

    def _chat_update(self, params: JSON, token: str) -> JSON:
        channel = self._channel(params.get("channel"))
        stored = self._messages.get((channel["id"], str(params.get("ts", ""))))
        if stored is None:
            raise SlackApiError("message_not_found")
        if stored.get("user") != self.bot_user_id:
            raise SlackApiError("cant_update_message")
        self._check_content({"text": params.get("text") or stored.get("text"), **params})
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                stored[key] = copy.deepcopy(params[key])
        stored["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        message = {k: copy.deepcopy(v) for k, v in stored.items() if k != "channel"}
        self.updates.append({**copy.deepcopy(message), "channel": channel["id"]})
        return {"channel": channel["id"], "ts": stored["ts"], "text": stored.get("text", ""), "message": message}

    def _chat_post_ephemeral(self, params: JSON, token: str) -> JSON:
        channel = self._channel(params.get("channel"))
        user = str(params.get("user") or "")
        if user not in self._users:
            raise SlackApiError("user_not_found")
        self._check_content(params)
        ts = self._next_ts()
        entry = {**self._bot_message(params, ts), "channel": channel["id"], "recipient": user}
        if params.get("thread_ts"):
            entry["thread_ts"] = str(params["thread_ts"])
        self.ephemeral.append(entry)
        return {"message_ts": ts}

    def _conversations_open(self, params: JSON, token: str) -> JSON:
        if params.get("channel"):
            channel = self._channel(params["channel"])
            return {"channel": copy.deepcopy(channel) if params.get("return_im") else {"id": channel["id"]}}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise SlackApiError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackApiError("not_supported_by_fake")
        if users[0] not in self._users:
            raise SlackApiError("user_not_found")
        channel_id = self.dm_channel(users[0])
        result: JSON = {"channel": {"id": channel_id}}
        if params.get("return_im") in (True, "true", "1"):
            result["channel"] = copy.deepcopy(self._channels[channel_id])
        return result

    def _conversations_info(self, params: JSON, token: str) -> JSON:
        channel = copy.deepcopy(self._channel(params.get("channel")))
        if params.get("include_locale") in (True, "true", "1"):
            channel["locale"] = "en-US"
        return {"channel": channel}

    def _conversations_history(self, params: JSON, token: str) -> JSON:
        """Top-level messages of a conversation (and thread broadcasts), newest first, a page at a time."""
        channel = self._conversation(params)
        found = [m for (c, _), m in self._messages.items() if c == channel
                 and (m.get("thread_ts", m["ts"]) == m["ts"] or m.get("subtype") == "thread_broadcast")]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        return self._page(found, params, newest_first=True)

    def _conversations_replies(self, params: JSON, token: str) -> JSON:
        """A thread: its parent first, then the replies, oldest first, a page at a time."""
        channel = self._conversation(params)
        parent = self._messages.get((channel, str(params.get("ts") or "")))
        if parent is None:
            raise SlackApiError("thread_not_found")
        replies = [m for (c, ts), m in self._messages.items()
                   if c == channel and m.get("thread_ts") == parent["ts"] and ts != parent["ts"]]
        replies.sort(key=lambda m: float(m["ts"]))
        page = self._page(replies, params, newest_first=False)
        if not params.get("cursor"):
            page["messages"].insert(0, self._as_listed(parent, params))
        return page

    def _conversation(self, params: JSON) -> str:
        """A conversation id (C…, G…, D…); unlike chat.postMessage, a user id is not accepted."""
        channel_id = str(params.get("channel") or "")
        if channel_id not in self._channels:
            raise SlackApiError("channel_not_found")
        return channel_id

    def _page(self, messages: list[JSON], params: JSON, *, newest_first: bool) -> JSON:
        """Apply oldest/latest (exclusive unless ``inclusive``), cursor and limit like Slack's history methods."""
        inclusive = params.get("inclusive") in _TRUE
        oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or time.time() + 1)

        def within(ts: float) -> bool:
            return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

        listed = [m for m in messages if within(float(m["ts"]))]
        cursor = str(params.get("cursor") or "")
        if cursor:
            after = float(base64.b64decode(cursor).decode().removeprefix("next_ts:"))
            listed = [m for m in listed if (float(m["ts"]) <= after if newest_first else float(m["ts"]) >= after)]
        limit = min(MAX_HISTORY_PAGE, max(1, int(params.get("limit") or 100)))
        page, rest = listed[:limit], listed[limit:]
        next_cursor = base64.b64encode(f"next_ts:{rest[0]['ts']}".encode()).decode() if rest else ""
        return {"messages": [self._as_listed(m, params) for m in page], "has_more": bool(rest), "pin_count": 0,
                "response_metadata": {"next_cursor": next_cursor}}

    @staticmethod
    def _as_listed(message: JSON, params: JSON) -> JSON:
        """A stored message as the history methods list it: no channel field; metadata only when asked for."""
        hidden = {"channel"} if params.get("include_all_metadata") in _TRUE else {"channel", "metadata"}
        return {k: copy.deepcopy(v) for k, v in message.items() if k not in hidden}

    def _users_info(self, params: JSON, token: str) -> JSON:
        user = self._users.get(str(params.get("user") or ""))
        if user is None:
            raise SlackApiError("user_not_found")
        user = copy.deepcopy(user)
        if params.get("include_locale") not in (True, "true", "1"):
            user.pop("locale", None)
        return {"user": user}

    def _views_publish(self, params: JSON, token: str) -> JSON:
        user_id = str(params.get("user_id") or "")
        view = params.get("view")
        if user_id not in self._users:
            raise SlackApiError("user_not_found")
        if not isinstance(view, dict) or view.get("type") != "home" or not isinstance(view.get("blocks"), list):
            raise SlackApiError("invalid_arguments")
        current = self._home_views.get(user_id)
        if params.get("hash") and current and params["hash"] != current["hash"]:
            raise SlackApiError("hash_conflict")
        published = {
            "id": current["id"] if current else _random_id("V"),
            "team_id": self.team_id,
            "type": "home",
            "blocks": copy.deepcopy(view["blocks"]),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": False,
            "notify_on_close": False,
            "root_view_id": None,
            "previous_view_id": None,
            "app_id": self.api_app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        published["root_view_id"] = published["id"]
        self._home_views[user_id] = published
        self.views.append({"user_id": user_id, "view": copy.deepcopy(published)})
        return {"view": published}

    def _apps_connections_open(self, params: JSON, token: str) -> JSON:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        ws_base = self._base_url.replace("http://", "ws://", 1)
        return {"url": f"{ws_base}/link/?ticket={ticket}&app_id={self.api_app_id}"}

    def _files_info(self, params: JSON, token: str) -> JSON:
        info = self._files.get(str(params.get("file") or ""))
        if info is None:
            raise SlackApiError("file_not_found")
        return {"file": copy.deepcopy(info), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _files_get_upload_url_external(self, params: JSON, token: str) -> JSON:
        filename, length = str(params.get("filename") or ""), str(params.get("length") or "")
        if not filename or not length.isdigit():
            raise SlackApiError("invalid_arguments")
        file_id = _random_id("F")
        self._uploads[file_id] = {"name": filename, "length": int(length), "user": self.bot_user_id}
        return {"upload_url": f"{self._base_url}/upload/v1/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, params: JSON, token: str) -> JSON:
        """Finish uploads whose bytes arrived; share them into ``channel_id`` (``thread_ts``) as one message."""
        files = params.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            raise SlackApiError("invalid_arguments")
        channel = self._channel(params["channel_id"]) if params.get("channel_id") else None
        pending = [self._uploads.get(str(f.get("id"))) for f in files]
        if any(p is None or "data" not in p for p in pending):
            raise SlackApiError("file_upload_not_complete" if all(pending) else "file_not_found")
        done = []
        for entry, upload in zip(files, pending, strict=True):
            assert upload is not None
            del self._uploads[str(entry["id"])]
            mimetype = mimetypes.guess_type(upload["name"])[0] or "application/octet-stream"
            info = self._keep_file(str(entry["id"]), upload["data"], upload["name"], mimetype, upload["user"])
            self._files[info["id"]]["title"] = info["title"] = str(entry.get("title") or upload["name"])
            done.append(info)
        if channel is not None:
            self._share(channel["id"], done, params)
        return {"files": [{"id": f["id"], "title": f["title"]} for f in done]}

    def _share(self, channel: str, files: list[JSON], params: JSON) -> None:
        """The message that shares uploaded files into a channel or thread (as Slack posts it)."""
        ts = self._next_ts()
        message = self._bot_message({"text": params.get("initial_comment") or "",
                                     "blocks": params.get("blocks")}, ts)
        message.update({"files": copy.deepcopy(files), "upload": True})
        thread_ts = params.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            self._count_reply(channel, str(thread_ts), self.bot_user_id, ts)
        for info in files:
            self._files[info["id"]].setdefault("shares", {}).setdefault("public", {}).setdefault(
                channel, []).append({"ts": ts, "thread_ts": thread_ts or ts})
        self._messages[(channel, ts)] = {**message, "channel": channel}
        self._posted.append({**copy.deepcopy(message), "channel": channel})

    # --------------------------------------------------------------------------- other endpoints

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """An upload URL from files.getUploadURLExternal: the body is the file (its length as announced)."""
        upload = self._uploads.get(request.match_info["id"])
        if upload is None:
            return web.Response(status=404, text="upload not found")
        data = await request.read()
        if len(data) != upload["length"]:
            return web.Response(status=400, text=f"expected {upload['length']} bytes, got {len(data)}")
        upload["data"] = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")


    async def _handle_response_url(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = json.loads(body) if body else {}
        except json.JSONDecodeError:
            return web.Response(status=400, text="invalid_payload")
        self.responses.append({"response_url": str(request.url), "payload": payload})
        return web.Response(text="ok", content_type="text/plain")

    async def _handle_file(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if header.removeprefix("Bearer ") not in self._bot_tokens:
            return web.Response(status=302, headers={"Location": f"{self._base_url}/?redir=login"})
        data = self._file_data.get(request.match_info["id"])
        if data is None:
            return web.Response(status=404, text="file not found")
        mimetype = self._files[request.match_info["id"]]["mimetype"]
        return web.Response(body=data, content_type=mimetype)
