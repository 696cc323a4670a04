"""The Slack channel (slack-bolt AsyncApp): Socket Mode or signed HTTP events in, Web API out.

Every event is acknowledged only after it is stored (`process_before_response`): a failure answers
500 (HTTP) or leaves the envelope un-acked (Socket Mode), so Slack delivers it again; a retry of an
event already stored is acknowledged and has no second effect (the message path dedupes on the
message-based `external_id`). HTTP mode rejects a bad or stale signature with 401 before anything runs.

Every post carries message metadata naming its outbox row and part (`OUTBOX_EVENT`). A row that may
have been posted already — an earlier attempt ended in a crash (its lease ran out), a timeout or a
5xx — is first looked up in the conversation (conversations.history, or conversations.replies in a
thread, with `include_all_metadata`); the parts found are recorded as sent instead of posted again.
So a `kill -9` between chat.postMessage and the drainer's record duplicates nothing on Slack.

A web chat file (its bytes in the file store) goes as a Slack file into the row's conversation or thread
(`files_upload_v2`: files.getUploadURLExternal, the bytes to the upload URL, files.completeUploadExternal),
after the row's text. A file share cannot carry metadata, so the lookup recognises it otherwise: a message of
this bot with a file of the same name and size, after the row's last text part (files go after the text),
each share standing for one file of the row. The bound: if, in that window, another row shared a file with
the same name and size into the same thread, the retry takes it for this row's file and does not post it
again — the thread shows those bytes once, not twice. An upload interrupted before files.completeUploadExternal
leaves an unshared private file in Slack and is uploaded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.channels import slack_inbound as inbound
from bot.channels.base import Desk, StepSender, file_note, post_id, split_post_id, with_file_notes
from bot.channels.slack_blocks import home_view, message_payload
from bot.channels.text import split_text
from bot.config import ConfigError
from bot.core.files import FileStore
from bot.core.messages import Attachment, Button, IncomingMessage, OutgoingMessage
from bot.core.outbox import PermanentFailure, RetryLater, backoff
from bot.core.overview import load_overview
from bot.core.spaces import bot_posts_in

log = logging.getLogger(__name__)
CHANNEL = inbound.CHANNEL
EVENTS_PATH = "/slack/events"
COMMAND = "/helpdesk"
MAX_POST_CHARS = 12_000  # split longer texts into several posts (each a few sections)
TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
UNREACHABLE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "account_inactive",
                         "user_not_found", "user_disabled", "cannot_dm_bot"})
MAX_HOME_VIEWERS = 500
OUTBOX_EVENT = "helpdesk_outbox"  # metadata event_type of every post: event_payload {"outbox_id", "part"}
LOOKUP_PAGE = 100  # messages per conversations.history / .replies page when checking for an earlier delivery
LOOKUP_PAGES = 5  # pages read at most; a row posted earlier than that many messages back is posted again
CLOCK_MARGIN = timedelta(minutes=1)  # Slack's clock may be behind ours: look a little before the row was written
MAX_UNVERIFIED = 10_000  # "maybe posted" rows remembered at most
NO_FILES_SCOPE = "Slack: missing_scope"  # an app installed before it asked for files:write


def outbox_metadata(outbox_id: int, part: int) -> dict[str, Any]:
    """chat.postMessage `metadata` naming the outbox row (and part of a split text) a post delivers."""
    return {"event_type": OUTBOX_EVENT, "event_payload": {"outbox_id": outbox_id, "part": part}}


def delivered_parts(messages: list[dict[str, Any]], outbox_id: int) -> dict[int, str]:
    """The ts of each part of outbox row `outbox_id` among conversation messages, by part number."""
    found: dict[int, str] = {}
    for m in messages:
        metadata = m.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == OUTBOX_EVENT and str(payload.get("outbox_id")) == str(outbox_id):
            found.setdefault(int(payload.get("part") or 0), str(m["ts"]))
    return found


def shared_files(messages: list[dict[str, Any]], bot_user: str, after: str | None) -> list[tuple[str, int, str]]:
    """(name, size, ts) of the files `bot_user` shared among conversation messages, oldest first, after `after`."""
    shares = [(str(f.get("name") or ""), int(f.get("size") or 0), str(m["ts"]))
              for m in messages if m.get("user") == bot_user
              and (after is None or float(m["ts"]) > float(after)) for f in m.get("files") or ()]
    return sorted(shares, key=lambda share: float(share[2]))


class SlackChannel:
    """The Slack adapter: receives events, clicks and commands; sends outbox rows; keeps App Home fresh."""

    name = CHANNEL

    def __init__(self, bot_token: str, api_url: str, *, signing_secret: str | None = None,
                 app_token: str | None = None, home_delay: float = 1.0, files: FileStore | None = None) -> None:
        self._app_token = app_token
        self.files = files  # web chat files, sent to Slack as files (not links) when given
        self._bot_user: str | None = None  # the app's bot user (auth.test): whose file shares are its own
        self.app = AsyncApp(token=bot_token, signing_secret=signing_secret or "", process_before_response=True,
                            request_verification_enabled=app_token is None)
        self.client: AsyncWebClient = self.app.client
        self.client.base_url = api_url
        self._http = AsyncSlackRequestHandler(self.app)
        self._socket: AsyncSocketModeHandler | None = None
        self._desk: Desk | None = None
        self._steps = StepSender()
        self._unverified: dict[int, None] = {}  # rows that may have been posted by an attempt whose answer was lost
        self._dm_channels: dict[str, str] = {}  # user id → the app's DM channel with them
        self._people: dict[str, tuple[str, str | None]] = {}
        self._home_seen: dict[str, str] = {}  # user → digest of the view last published
        self._home_dirty = asyncio.Event()
        self._home_delay = home_delay
        self._home_task: asyncio.Task[None] | None = None
        self._listen()

    def describe(self) -> str:
        """How events arrive."""
        return "slack: socket mode" if self._app_token else f"slack: HTTP events ({EVENTS_PATH})"

    def routes(self) -> list[BaseRoute]:
        """The Events/interactivity endpoint, in HTTP mode only (Socket Mode needs no public URL)."""
        return [] if self._app_token else [Route(EVENTS_PATH, self._http_endpoint, methods=["POST"])]

    # ----------------------------------------------------------------------------- life cycle

    def _session(self) -> None:
        if self.client.session is None or self.client.session.closed:
            self.client.session = aiohttp.ClientSession()

    async def download(self, file_id: str, limit: int) -> bytes:
        """The bytes of a file shared with the bot (what the web chat fetches for an expert's file), at most
        `limit`: files.info, then the file's private URL with the bot token."""
        self._session()
        assert self.client.session is not None
        info = (await self.client.files_info(file=file_id))["file"]
        if int(info.get("size") or 0) > limit:
            raise ValueError(f"the file has {info['size']} bytes, more than {limit}")
        url = str(info.get("url_private_download") or info["url_private"])
        async with self.client.session.get(url, headers={"Authorization": f"Bearer {self.client.token}"}) as got:
            got.raise_for_status()
            data = await got.content.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"the file has more than {limit} bytes")
        return data

    async def start(self, desk: Desk) -> None:
        """Check the token, connect Socket Mode (if configured) and start refreshing App Home tabs."""
        self._desk = desk
        self._session()
        try:
            self._bot_user = str((await self.client.auth_test())["user_id"])
        except SlackApiError as exc:
            raise ConfigError("SLACK_BOT_TOKEN", [f"rejected by Slack: {exc.response.get('error')}"]) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ConfigError("SLACK_API_URL", [f"cannot reach Slack: {exc}"]) from None
        if self._app_token:
            self._socket = AsyncSocketModeHandler(self.app, self._app_token)
            await self._socket.connect_async()
        self._home_task = asyncio.create_task(self._refresh_homes(), name="slack-home")

    async def stop(self) -> None:
        """Disconnect Socket Mode and stop refreshing; sending still works."""
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._home_task is not None:
            self._home_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._home_task
            self._home_task = None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self.client.session is not None:
            await self.client.session.close()

    # -------------------------------------------------------------------------------- inbound

    def _listen(self) -> None:
        app = self.app
        app.event("message")(self._on_message)
        app.event("app_mention")(self._on_mention)
        app.event("app_home_opened")(self._on_home_opened)
        app.event("channel_left")(self._on_removed)
        app.event("group_left")(self._on_removed)
        app.action(re.compile(r"^hd_"))(self._on_click)
        app.command(COMMAND)(self._on_command)
        app.event(re.compile(".*"))(self._on_other)

    async def _http_endpoint(self, request: Request) -> Response:
        return await self._http.handle(request)

    async def _profile(self, user: str) -> tuple[str, str | None]:
        """Name and language of a Slack user (users.info, remembered)."""
        if user not in self._people:
            try:
                info = (await self.client.users_info(user=user, include_locale=True))["user"]
            except (SlackApiError, aiohttp.ClientError, TimeoutError):
                return user, None
            name = (info.get("profile") or {}).get("real_name") or info.get("real_name") or info.get("name") or user
            self._people[user] = (str(name), info.get("locale"))
        return self._people[user]

    async def _submit(self, msg: IncomingMessage | None) -> None:
        if msg is None:
            return
        if self._desk is None:
            raise RuntimeError("the Slack channel is not started")
        name, language = await self._profile(msg.user_id)
        await self._desk.submit(replace(msg, user_name=name, language=language))

    async def _on_message(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        bot = context.bot_user_id or ""
        msg = inbound.message(event, bot)
        thread = inbound.thread_of(event) if msg is None else None
        if thread is not None and await self._answers_in(thread):  # a follow-up where the bot answered
            msg = inbound.message(event, bot, mention=True)
        await self._submit(msg)

    async def _answers_in(self, chat_id: str) -> bool:
        assert self._desk is not None
        async with self._desk.engine.connect() as conn:
            return await bot_posts_in(conn, CHANNEL, chat_id)

    async def _on_mention(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._submit(inbound.message(event, context.bot_user_id or "", mention=True))

    async def _on_removed(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        await self._submit(inbound.removed(event, str(body.get("event_id", ""))))

    async def _on_click(self, ack: Any, body: dict[str, Any]) -> None:
        await self._submit(inbound.button(body))
        await ack()

    async def _on_command(self, ack: Any, command: dict[str, Any]) -> None:
        await self._submit(inbound.command(command))
        await ack()

    async def _on_other(self) -> None:
        """Events the app does not use are acknowledged and dropped."""

    async def _on_home_opened(self, event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            self._home_seen.pop(event["user"], None)
            self._home_seen[event["user"]] = ""
            while len(self._home_seen) > MAX_HOME_VIEWERS:
                self._home_seen.pop(next(iter(self._home_seen)))
            await self._publish_home(event["user"])

    # ------------------------------------------------------------------------------- App Home

    async def _publish_home(self, user: str) -> None:
        """views.publish the user's Home tab, unless it would show what it shows already."""
        assert self._desk is not None
        async with self._desk.engine.connect() as conn:
            overview = await load_overview(conn, CHANNEL, user)
        view = home_view(overview, self._desk.config.service.default_language)
        digest = hashlib.sha256(json.dumps(view, sort_keys=True, default=str).encode()).hexdigest()
        if self._home_seen.get(user) == digest:
            return
        await self.client.views_publish(user_id=user, view=view)
        self._home_seen[user] = digest

    async def _refresh_homes(self) -> None:
        """After sends (something changed), refresh the Home tabs people have opened, at most once a second."""
        while True:
            await self._home_dirty.wait()
            await asyncio.sleep(self._home_delay)
            self._home_dirty.clear()
            for user in list(self._home_seen):
                try:
                    await self._publish_home(user)
                except Exception as exc:
                    log.warning("App Home of %s not refreshed: %s", user, exc)

    # ------------------------------------------------------------------------------- outbound

    async def send(self, message: OutgoingMessage) -> str | None:
        """Post (or update) one outbox row; return the first post's id ('channel/ts')."""
        self._session()
        channel, thread = split_post_id(message.chat_id)
        if message.thread_external_id:
            thread = split_post_id(message.thread_external_id)[1]
        if message.kind == "edit":
            assert message.edit_external_id is not None
            where, ts = split_post_id(message.edit_external_id)
            text = with_file_notes(message.text, message.attachments, CHANNEL)
            await self._call(message.attempt, self.client.chat_update(
                channel=where, ts=ts, **message_payload(text, message.buttons)))
            posted: str | None = message.edit_external_id
        else:
            posted = await self._post_row(message, channel, thread or None)
        self._home_dirty.set()
        return posted

    async def _post_row(self, message: OutgoingMessage, channel: str, thread: str | None) -> str | None:
        """Post a row's text parts, then share its web chat files (the others are named in the text), skipping
        what an earlier attempt posted."""
        files = [a for a in message.attachments if self.files is not None and self.files.holds(a)]
        text = with_file_notes(message.text, [a for a in message.attachments if a not in files], CHANNEL)
        parts = [p for p in split_text(text, MAX_POST_CHARS) if p.strip()]
        where, earlier = await self._posted_before(message, channel, thread)
        delivered = delivered_parts(earlier, message.outbox_id)
        last = len(parts) - 1
        shares = ([] if not (files and earlier) or (parts and last not in delivered)  # files go after the text
                  else shared_files(earlier, await self._bot_user_id(message.attempt), delivered.get(last)))
        if delivered or shares:
            log.info("outbox row %s was delivered before (parts %s, %d file shares after them); not posting "
                     "those again", message.outbox_id, sorted(delivered), len(shares))
        found = {part: post_id(where, ts) for part, ts in delivered.items()}
        steps = [partial(self._post, message, channel, thread, index, part,
                         message.buttons if index == last else (), found) for index, part in enumerate(parts)]
        steps += [partial(self._share, message, channel, thread, len(parts) + i, file, shares, found)
                  for i, file in enumerate(files)]
        posted = await self._steps.run(message.outbox_id, steps)
        self._unverified.pop(message.outbox_id, None)
        return posted

    async def _post(self, message: OutgoingMessage, channel: str, thread: str | None, index: int, text: str,
                    buttons: tuple[Button, ...], found: Mapping[int, str]) -> str:
        """Post part `index` of a row, unless an earlier attempt did (`found`: part → post id)."""
        if index in found:
            return found[index]
        try:
            response = await self._call(message.attempt, self.client.chat_postMessage(
                channel=channel, thread_ts=thread, metadata=outbox_metadata(message.outbox_id, index),
                **message_payload(text, buttons)))
        except RetryLater as exc:
            if not exc.rate_limited:  # a timeout or 5xx: Slack may have posted it all the same
                self._suspect(message.outbox_id)
            raise
        except PermanentFailure:
            self._unverified.pop(message.outbox_id, None)
            raise
        return post_id(response["channel"], response["ts"])

    async def _share(self, message: OutgoingMessage, channel: str, thread: str | None, index: int, file: Attachment,
                     shares: list[tuple[str, int, str]], found: Mapping[int, str]) -> str:
        """Upload a web chat file's stored bytes as a Slack file into the row's conversation (and thread), unless
        an earlier attempt shared it (`shares`, each taken once). Slack's answer has no ts of the share: the
        post id names the thread, or the file outside threads. Without the files:write scope the file is named
        with its link instead, as post `index` of the row."""
        assert self.files is not None
        name = file.name or "file"
        data = self.files.path(file.sha256).read_bytes()
        conversation = await self._conversation(message.attempt, channel)
        share = next((s for s in shares if s[:2] == (name, len(data))), None)
        if share is not None:
            shares.remove(share)
            return post_id(conversation, share[2])
        try:
            response = await self._call(message.attempt, self.client.files_upload_v2(
                channel=conversation, thread_ts=thread, file=data, filename=name, title=name))
        except SlackRequestError as exc:  # the upload URL refused the bytes: nothing was shared
            raise RetryLater(backoff(message.attempt), f"Slack: {exc}") from None
        except RetryLater as exc:
            if not exc.rate_limited:  # a timeout or 5xx at files.completeUploadExternal may have shared it
                self._suspect(message.outbox_id)
            raise
        except PermanentFailure as exc:
            if str(exc) != NO_FILES_SCOPE:
                raise
            log.warning("the Slack app lacks the files:write scope: outbox row %s links its file", message.outbox_id)
            return await self._post(message, channel, thread, index, file_note(file), (), found)
        return post_id(conversation, thread or str(response["file"]["id"]))

    async def _bot_user_id(self, attempt: int) -> str:
        """The app's bot user (auth.test, once): whose file shares are its own."""
        if self._bot_user is None:
            self._bot_user = str((await self._call(attempt, self.client.auth_test()))["user_id"])
        return self._bot_user

    def _suspect(self, outbox_id: int) -> None:
        """Remember that this row's next attempt must look for an earlier delivery first."""
        self._unverified[outbox_id] = None
        while len(self._unverified) > MAX_UNVERIFIED:  # rows finished by another replica are never popped here
            self._unverified.pop(next(iter(self._unverified)))

    async def _posted_before(self, message: OutgoingMessage, channel: str,
                             thread: str | None) -> tuple[str, list[dict[str, Any]]]:
        """The conversation id and its messages since the row was written, where an earlier attempt of this row
        may have posted (its parts carry metadata; `delivered_parts`, `shared_files`).

        Only rows that may have been posted are looked up: a second claim of the row (the first attempt
        crashed or failed; the outbox counts attempts) or a row whose last post here timed out. A lookup
        that Slack refuses (e.g. a missing scope) is logged and the row is posted: at least once.
        """
        if message.attempt <= 1 and message.outbox_id not in self._unverified:
            return channel, []
        self._suspect(message.outbox_id)  # until the lookup has answered (it may be rate limited)
        where = channel
        found: list[dict[str, Any]] = []
        try:
            where = await self._conversation(message.attempt, channel)
            cursor: str | None = None
            oldest = f"{(message.created_at - CLOCK_MARGIN).timestamp():.6f}" if message.created_at else None
            for _ in range(LOOKUP_PAGES):
                page: dict[str, Any] = {"channel": where, "oldest": oldest, "limit": LOOKUP_PAGE,
                                        "include_all_metadata": True, "cursor": cursor}
                call = (self.client.conversations_replies(ts=thread, **page) if thread
                        else self.client.conversations_history(**page))
                response = await self._call(message.attempt, call)
                found += response.get("messages") or []
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if cursor is None:
                    break
        except PermanentFailure as exc:
            log.warning("outbox row %s: could not check for an earlier delivery (%s); posting it", message.outbox_id,
                        exc)
            found = []
        self._unverified.pop(message.outbox_id, None)
        return where, found

    async def _conversation(self, attempt: int, channel: str) -> str:
        """The conversation id whose history holds posts to `channel` (a user id means the app's DM with them)."""
        if not channel.startswith(("U", "W")):
            return channel
        if channel not in self._dm_channels:
            response = await self._call(attempt, self.client.conversations_open(users=channel))
            self._dm_channels[channel] = str(response["channel"]["id"])
        return self._dm_channels[channel]

    @staticmethod
    async def _call(attempt: int, call: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
        """Run a Web API call; map its errors onto RetryLater / PermanentFailure."""
        try:
            return await call
        except SlackApiError as exc:
            status, error = exc.response.status_code, str(exc.response.get("error", ""))
            if status == 429 or error == "ratelimited":
                headers = {k.lower(): v for k, v in (exc.response.headers or {}).items()}
                raise RetryLater(float(headers.get("retry-after", 1)), "Slack: rate limited (429)",
                                 rate_limited=True) from None
            if status >= 500 or error in TRANSIENT:
                raise RetryLater(backoff(attempt), f"Slack: {status} {error}") from None
            raise PermanentFailure(f"Slack: {error}", unreachable=error in UNREACHABLE) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(backoff(attempt), f"Slack: {exc!r}") from None
