"""The web chat channel: pushes what the bot sends to the browsers open on a chat (Server-Sent Events).

It keeps nothing it cannot recover: a browser that was not connected loads the conversation from the
database (inbound messages and outbox rows) when it opens or reconnects.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from bot.channels.base import file_note
from bot.core.messages import Attachment, OutgoingMessage

QUEUE_SIZE = 100  # events kept for one slow browser before it is dropped (it reloads the history)


def post_ref(outbox_id: int) -> str:
    """The external id of a web post: its outbox row."""
    return f"web-{outbox_id}"


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


class WebChannel:
    """A ChannelSender for the `web` channel; browsers subscribe per chat id."""

    name = "web"

    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)

    async def send(self, message: OutgoingMessage) -> str | None:
        """Push the post (or the edit of an earlier one) to every browser on the chat."""
        external_id = message.edit_external_id if message.kind == "edit" and message.edit_external_id \
            else post_ref(message.outbox_id)
        self.publish(message.chat_id, with_files({
            "id": external_id, "kind": message.kind, "from": "bot", "text": message.text,
            "buttons": [{"label": b.label, "action": b.action} for b in message.buttons]}, message.attachments))
        return external_id

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
