"""The web chat channel: pushes what the bot sends to the browsers open on a chat (Server-Sent Events).

It keeps nothing it cannot recover: a browser that was not connected loads the conversation from the
database (inbound messages and outbox rows) when it opens or reconnects.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

from bot.core.messages import OutgoingMessage

QUEUE_SIZE = 100  # events kept for one slow browser before it is dropped (it reloads the history)


def post_ref(outbox_id: int) -> str:
    """The external id of a web post: its outbox row."""
    return f"web-{outbox_id}"


class WebChannel:
    """A ChannelSender for the `web` channel; browsers subscribe per chat id."""

    name = "web"

    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)

    async def send(self, message: OutgoingMessage) -> str | None:
        """Push the post (or the edit of an earlier one) to every browser on the chat."""
        external_id = message.edit_external_id if message.kind == "edit" and message.edit_external_id \
            else post_ref(message.outbox_id)
        self.publish(message.chat_id, {
            "id": external_id, "kind": message.kind, "from": "bot", "text": message.text,
            "buttons": [{"label": b.label, "action": b.action} for b in message.buttons]})
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
