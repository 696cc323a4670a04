"""The web chat channel: pushes what the bot sends to the browsers open on a chat (Server-Sent Events).

It keeps nothing it cannot recover: a browser that was not connected loads the conversation from the
database (inbound messages and outbox rows) when it opens or reconnects. On PostgreSQL the replicas
share what they send (LISTEN/NOTIFY), so a browser gets it live whichever replica it is connected to.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, replace
from typing import Any

from starlette.routing import BaseRoute

from bot.channels.base import Desk, file_note
from bot.core.messages import Attachment, OutgoingMessage
from bot.core.spaces import post_and_edits
from bot.db.broadcast import Broadcast

QUEUE_SIZE = 100  # events kept for one slow browser before it is dropped (it reloads the history)
CHANNEL = "helpdesk_web"  # the PostgreSQL notification channel (per schema) the replicas share posts on
RELOAD = {"kind": "reload"}  # tells a browser to load the history again (events may have been missed)
POST = "web-"  # the prefix of a post's id


def post_ref(outbox_id: int) -> str:
    """The external id of a web post: its outbox row."""
    return f"{POST}{outbox_id}"


def file_url(file_id: str) -> str:
    """The download link of a web chat upload, relative to the site."""
    return f"/files/{file_id}"


def file_items(attachments: Iterable[Attachment | dict[str, Any]]) -> list[dict[str, str]]:
    """Files as the pages show them: a download link for web chat uploads, the name alone for another platform's."""
    items = []
    for a in attachments:
        file = Attachment(**a) if isinstance(a, dict) else a
        items.append({"label": file_note(replace(file, url="")),
                      "url": file_url(file.file_id) if file.channel == "web" else ""})
    return items


def with_files(item: dict[str, Any], attachments: Iterable[Attachment | dict[str, Any]] | None) -> dict[str, Any]:
    """A chat item with its files (the key is left out when there are none)."""
    files = file_items(attachments or ())
    return item | {"files": files} if files else item


def bot_post(post_id: str, text: str, buttons: Iterable[dict[str, Any]],
             attachments: Iterable[Attachment | dict[str, Any]] | None) -> dict[str, Any]:
    """A post of the bot as the chat page shows it."""
    return with_files({"id": post_id, "from": "bot", "text": text, "buttons": list(buttons)}, attachments)


def bot_posts(rows: Iterable[Any]) -> list[tuple[Any, dict[str, Any]]]:
    """A web chat's outbox rows as posts with their rows, oldest first; an edit changes the post it names."""
    named: dict[str, dict[str, Any]] = {}
    posts = []
    for r in sorted(rows, key=lambda r: r.id):
        if r.kind == "edit" and r.ref in named:
            named[r.ref].update(text=r.text, buttons=r.buttons or [])
            continue
        post = bot_post(post_ref(r.id), r.text, r.buttons or [], r.attachments)
        if r.ref:
            named[r.ref] = post
        posts.append((r, post))
    return posts


async def load_post(desk: Desk, chat_id: str, post_id: str) -> dict[str, Any] | None:
    """One post of a web chat, edits applied, by its id ('web-N'); None when the chat has no such post."""
    number = post_id.removeprefix(POST)
    if not number.isdigit():
        return None
    first = int(number)
    async with desk.engine.connect() as conn:
        rows = await post_and_edits(conn, "web", chat_id, first)
    return next((post for r, post in bot_posts(rows) if r.id == first), None)


class WebChannel:
    """A ChannelSender for the `web` channel; browsers subscribe per chat id.

    Started on PostgreSQL, it also tells the other replicas what it sends, and passes on what they send
    to its own browsers.
    """

    name = "web"

    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)
        self._desk: Desk | None = None  # on PostgreSQL, to read what another replica posted
        self._broadcast: Broadcast | None = None

    def describe(self) -> str:
        """How it runs, for the log."""
        return f"web chat, replicas share posts on {self._broadcast.channel}" if self._broadcast else "web chat"

    def routes(self) -> list[BaseRoute]:
        """None here: the pages are `bot.web.app`'s."""
        return []

    async def start(self, desk: Desk) -> None:
        """On PostgreSQL, share posts with the other replicas (on SQLite there is one process: nothing to do)."""
        if desk.engine.dialect.name == "postgresql" and self._broadcast is None:
            self._desk = desk
            self._broadcast = await Broadcast.open(desk.engine, CHANNEL, self._shared, self._resumed)

    async def stop(self) -> None:
        """Nothing to stop: browsers post through the pages, whose server stops them."""

    async def close(self) -> None:
        """Stop listening to the other replicas."""
        if self._broadcast is not None:
            await self._broadcast.close()
            self._broadcast = None

    async def send(self, message: OutgoingMessage) -> str | None:
        """Push the post (or the edit of an earlier one) to every browser on the chat, on every replica."""
        external_id = message.edit_external_id if message.kind == "edit" and message.edit_external_id \
            else post_ref(message.outbox_id)
        event = bot_post(external_id, message.text, map(asdict, message.buttons), message.attachments)
        event["kind"] = message.kind
        self.publish(message.chat_id, event)
        if self._broadcast is not None:  # too long for a notification: the others read the post from the outbox
            await self._broadcast.send({"chat": message.chat_id, "event": event},
                                       fallback={"chat": message.chat_id, "post": external_id})
        return external_id

    async def _shared(self, note: dict[str, Any]) -> None:
        """What another replica sent: to this replica's browsers on the chat, if any."""
        chat, event = note.get("chat"), note.get("event")
        if not isinstance(chat, str) or not self.connected(chat):
            return
        if event is None and self._desk is not None:
            event = await load_post(self._desk, chat, str(note.get("post")))
        if isinstance(event, dict):
            self.publish(chat, event)

    def _resumed(self) -> None:
        """Other replicas' posts may have been missed: every browser here loads its history again."""
        for chat_id in list(self._listeners):
            self.publish(chat_id, RELOAD)

    def publish(self, chat_id: str, event: dict[str, Any]) -> None:
        """Hand one event to the chat's browsers; a full queue drops that browser's stream."""
        data = json.dumps(event)
        for queue in list(self._listeners.get(chat_id, ())):
            try:
                queue.put_nowait(data)
            except asyncio.QueueFull:
                self._listeners[chat_id].discard(queue)

    def subscribe(self, chat_id: str) -> asyncio.Queue[str]:
        """A queue of JSON events for one browser connection."""
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self._listeners[chat_id].add(queue)
        return queue

    def unsubscribe(self, chat_id: str, queue: asyncio.Queue[str]) -> None:
        """Forget a closed connection."""
        listeners = self._listeners.get(chat_id)
        if listeners is not None:
            listeners.discard(queue)
            if not listeners:
                del self._listeners[chat_id]

    def connected(self, chat_id: str) -> int:
        """How many browsers are on the chat."""
        return len(self._listeners.get(chat_id, ()))
