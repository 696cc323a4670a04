"""An in-process channel that records what the bot sends: for tests, benchmarks and the console."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

from bot.core.messages import OutgoingMessage


@dataclass
class Post:
    """A message as it currently stands in a chat (edits replace text and buttons)."""

    external_id: str
    chat_id: str
    text: str
    buttons: list[tuple[str, str]]
    thread: str | None = None
    edits: int = 0
    files: tuple[str, ...] = ()  # names of the attached files


class MemoryChannel:
    """Keeps every chat's posts in memory; `send` never fails."""

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.posts: dict[str, list[Post]] = defaultdict(list)
        self.by_id: dict[str, Post] = {}
        self.deliveries = 0
        self._ids = itertools.count(1)

    async def send(self, message: OutgoingMessage) -> str | None:
        """Record a new post or apply an edit."""
        self.deliveries += 1
        buttons = [(b.label, b.action) for b in message.buttons]
        if message.kind == "edit" and message.edit_external_id in self.by_id:
            post = self.by_id[message.edit_external_id]
            post.text, post.buttons, post.edits = message.text, buttons, post.edits + 1
            return post.external_id
        post = Post(f"{self.name}-{next(self._ids)}", message.chat_id, message.text, buttons,
                    message.thread_external_id, files=tuple(a.name for a in message.attachments))
        self.posts[message.chat_id].append(post)
        self.by_id[post.external_id] = post
        return post.external_id
