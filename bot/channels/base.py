"""What the live chat channels share: their life cycle, the desk they feed, post ids, resumable sends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute

from bot.config import ServiceConfig
from bot.core.messages import Attachment, IncomingMessage, OutgoingMessage
from bot.core.outbox import PermanentFailure
from bot.core.pipeline import Outcome
from bot.core.router import Router


class Desk(Protocol):
    """The parts of the running help desk an adapter uses."""

    engine: AsyncEngine
    config: ServiceConfig
    router: Router

    async def submit(self, msg: IncomingMessage) -> Outcome:
        """Store and handle one inbound message; returns once it is committed."""
        ...


@runtime_checkable
class LiveChannel(Protocol):
    """A chat platform adapter that receives (polling, socket or webhook) as well as sends."""

    name: str

    async def send(self, message: OutgoingMessage) -> str | None:
        """Deliver one outbox row; return the platform's id of the (first) post."""
        ...

    def describe(self) -> str:
        """How it runs, for the log (never a token)."""
        ...

    def routes(self) -> list[BaseRoute]:
        """HTTP endpoints it needs on the app's server (webhooks)."""
        ...

    async def start(self, desk: Desk) -> None:
        """Connect and begin taking updates into `desk`."""
        ...

    async def stop(self) -> None:
        """Stop taking updates (sending still works)."""
        ...

    async def close(self) -> None:
        """Release connections; after the drainer stopped."""
        ...


def post_id(chat: str | int, message: str | int) -> str:
    """A post's id as stored in the outbox: unique across chats ('-100123/45', 'C0ABC/1700000000.000100')."""
    return f"{chat}/{message}"


def split_post_id(value: str) -> tuple[str, str]:
    """'-100123/45' -> ('-100123', '45'); a bare chat id gives (chat, '')."""
    chat, _, message = value.rpartition("/")
    return (chat, message) if chat else (value, "")


def file_note(attachment: Attachment) -> str:
    """A file this channel cannot relay (it lives on another platform), as a line of text (with its link if any)."""
    size = f" ({max(1, attachment.size // 1024)} KB)" if attachment.size else ""
    link = f" {attachment.url}" if attachment.url else ""
    return f"📎 {attachment.name or attachment.kind}{size}{link}"


def with_file_notes(text: str, attachments: Sequence[Attachment], channel: str) -> str:
    """The text plus a note for every attachment from another channel."""
    notes = [file_note(a) for a in attachments if a.channel and a.channel != channel]
    return "\n".join([text, *notes]) if notes else text


Step = Callable[[], Awaitable[str]]


class StepSender:
    """Sends a row's posts (text parts, files) in order and resumes after the last one that went out.

    A rate limit in the middle of a split message raises RetryLater; the drainer retries the row
    later and the parts already posted are not posted again (progress is kept in memory, so a crash
    re-sends at most this one row, as the outbox promises).
    """

    def __init__(self) -> None:
        self._progress: dict[int, tuple[str | None, int]] = {}

    async def run(self, outbox_id: int, steps: Sequence[Step]) -> str | None:
        """Run the steps not yet done; return the id of the first post."""
        first, done = self._progress.get(outbox_id, (None, 0))
        try:
            for index in range(done, len(steps)):
                posted = await steps[index]()
                first = first or posted
                self._progress[outbox_id] = (first, index + 1)
        except PermanentFailure:
            self._progress.pop(outbox_id, None)
            raise
        self._progress.pop(outbox_id, None)
        return first
