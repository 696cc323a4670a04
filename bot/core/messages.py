"""What flows through the message path, independent of any chat platform."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates (undecodable bytes): no database keeps them


@dataclass(frozen=True)
class Attachment:
    """A file relayed by reference (the channel's file id), never copied."""

    kind: str  # "photo" | "document"
    file_id: str
    name: str = ""
    size: int = 0
    mime: str = ""
    channel: str = ""  # whose file id this is: another channel can only mention the file
    url: str = ""  # where a signed-in browser can download it (web chat uploads): other channels link to it
    sha256: str = ""  # web chat uploads: the stored content (its row is written with the message)


@dataclass(frozen=True)
class IncomingMessage:
    """One thing a person did on a channel: a text, a command or a button press."""

    channel: str
    external_id: str
    user_id: str
    chat_id: str
    text: str = ""
    user_name: str = ""
    language: str | None = None
    action: str | None = None
    chat_type: str = "private"
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()
    unsupported: str | None = None  # e.g. "sticker": something the bot cannot read
    event: str | None = None  # not a message but something that happened, e.g. "edited", "bot_removed"
    received_at: datetime | None = None


@dataclass(frozen=True)
class Button:
    """A choice shown under a message; `action` is signed data the bot checks on press."""

    label: str
    action: str


@dataclass(frozen=True)
class OutgoingMessage:
    """A message for one chat, as the drainer hands it to a channel adapter."""

    outbox_id: int
    channel: str
    chat_id: str
    text: str
    buttons: tuple[Button, ...] = ()
    kind: str = "send"  # "send" | "edit"
    edit_external_id: str | None = None
    thread_external_id: str | None = None
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    attempt: int = 1  # the how-manieth try of this outbox row, for the adapter's backoff
    created_at: datetime | None = None  # when the row was written: no earlier delivery of it can be older


def storable(text: str) -> str:
    """`text` with what cannot be stored (NUL, lone surrogates from undecodable bytes) replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def _cleaned(item: Any) -> Any:
    """`item` (a message or an attachment) with every text field storable; itself when it already was."""
    changes: dict[str, Any] = {}
    for f in fields(item):
        value = getattr(item, f.name)
        if isinstance(value, str) and _UNSTORABLE.search(value):
            changes[f.name] = storable(value)
    return replace(item, **changes) if changes else item


def clean_incoming(msg: IncomingMessage) -> IncomingMessage:
    """A message from any channel made storable: invalid text never makes the message path fail."""
    msg = _cleaned(msg)
    if not msg.attachments:
        return msg
    attachments = tuple(_cleaned(a) for a in msg.attachments)
    return replace(msg, attachments=attachments) if attachments != msg.attachments else msg
