"""Slack events, button clicks and slash commands as IncomingMessages.

- DMs with the app: every message. Channels: @mentions, and replies in threads the bot started
  (ticket cards, its own posts) or answers in (the adapter checks the outbox, `thread_of`); other
  channel chatter is not read. A conversation in a channel is a thread: its chat id is
  'channel/thread_ts', so answers go into that thread.
- Buttons carry the signed action string as their `value`; it is passed on unchanged.
- `/helpdesk claim 5` becomes the command text '/claim 5' (and `/helpdesk` alone '/help').
- Edited messages (message_changed with new text) become the event "edited"; the app removed
  from a channel (channel_left / group_left) becomes the event "bot_removed".
- `external_id` is message-based ('channel/ts'), so an @mention that also arrives as a message
  event, and any Slack retry, is stored once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.channels.base import post_id
from bot.core.messages import Attachment, IncomingMessage

CHANNEL = "slack"
_READ_SUBTYPES = (None, "file_share", "thread_broadcast")


def clean_text(text: str, bot_user_id: str) -> str:
    """Slack's text as typed: without the bot's mention and with &, < and > unescaped."""
    text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text) if bot_user_id else text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def _is_dm(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == "im" or str(event.get("channel", "")).startswith("D")


def _files(files: list[dict[str, Any]] | None) -> tuple[Attachment, ...]:
    return tuple(Attachment("photo" if str(f.get("mimetype", "")).startswith("image/") else "document",
                            str(f["id"]), str(f.get("name") or ""), int(f.get("size") or 0),
                            str(f.get("mimetype") or ""), CHANNEL) for f in files or () if f.get("id"))


def message(event: dict[str, Any], bot_user_id: str, *, mention: bool = False) -> IncomingMessage | None:
    """A message or app_mention event, when it is addressed to the bot."""
    subtype = event.get("subtype")
    if subtype == "message_changed":
        return _edited(event, bot_user_id)
    user, channel, ts = event.get("user"), str(event.get("channel", "")), str(event.get("ts", ""))
    if event.get("bot_id") or subtype not in _READ_SUBTYPES or not user or not channel or not ts:
        return None
    dm, thread = _is_dm(event), event.get("thread_ts")
    if not (dm or mention or (thread and event.get("parent_user_id") == bot_user_id)):
        return None
    return IncomingMessage(
        channel=CHANNEL, external_id=post_id(channel, ts), user_id=str(user),
        chat_id=channel if dm else post_id(channel, thread or ts), text=clean_text(event.get("text", ""), bot_user_id),
        chat_type="private" if dm else "group", reply_to=post_id(channel, thread) if thread else None,
        attachments=_files(event.get("files")), received_at=datetime.fromtimestamp(float(ts), UTC))


def thread_of(event: dict[str, Any]) -> str | None:
    """The chat id of a person's reply in a channel thread ('channel/thread_ts'), else None."""
    if (_is_dm(event) or event.get("bot_id") or event.get("subtype") not in _READ_SUBTYPES
            or not event.get("user") or not event.get("thread_ts")):
        return None
    return post_id(str(event.get("channel", "")), str(event["thread_ts"]))


def _edited(event: dict[str, Any], bot_user_id: str) -> IncomingMessage | None:
    new, old = event.get("message") or {}, event.get("previous_message") or {}
    channel = str(event.get("channel", ""))
    if new.get("bot_id") or not new.get("user") or new.get("text") == old.get("text"):
        return None  # the bot's own edits, unfurls and other changes that are not a new text
    dm, ts = _is_dm(event), str(new.get("ts", ""))
    if not dm and f"<@{bot_user_id}" not in str(new.get("text", "")):
        return None
    return IncomingMessage(
        channel=CHANNEL, external_id=f"{post_id(channel, ts)}/edit/{event.get('event_ts', '')}",
        user_id=str(new["user"]), chat_id=channel if dm else post_id(channel, new.get("thread_ts") or ts),
        text=clean_text(str(new.get("text", "")), bot_user_id), chat_type="private" if dm else "group",
        event="edited")


def button(body: dict[str, Any]) -> IncomingMessage | None:
    """A block_actions click; answers go to the DM, or into the thread of the clicked message."""
    actions = body.get("actions") or []
    value = actions[0].get("value") if actions else None
    if not value:
        return None
    container, posted = body.get("container") or {}, body.get("message") or {}
    user = body["user"]["id"]
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    root = posted.get("thread_ts") or container.get("message_ts")
    if not channel or str(channel).startswith("D") or not root:
        chat, kind = str(channel or user), "private"
    else:
        chat, kind = post_id(channel, root), "group"
    return IncomingMessage(channel=CHANNEL, external_id=f"act/{body.get('trigger_id') or actions[0].get('action_ts')}",
                           user_id=str(user), chat_id=chat, action=str(value), chat_type=kind)


def command(body: dict[str, Any]) -> IncomingMessage:
    """`/helpdesk …`: answered in the app's DM when run in a DM, else in the channel it was run in."""
    channel, user = str(body["channel_id"]), str(body["user_id"])
    dm = channel.startswith("D")
    text = str(body.get("text") or "").strip().lstrip("/")
    return IncomingMessage(channel=CHANNEL, external_id=f"cmd/{body.get('trigger_id')}", user_id=user,
                           chat_id=user if dm else channel, text="/" + (text or "help"),
                           chat_type="private" if dm else "group")


def removed(event: dict[str, Any], event_id: str) -> IncomingMessage:
    """channel_left / group_left: the app was removed from a channel."""
    channel, actor = str(event.get("channel", "")), str(event.get("actor_id") or "USLACKBOT")
    return IncomingMessage(channel=CHANNEL, external_id=f"ev/{event_id}", user_id=actor, chat_id=channel,
                           text=channel, chat_type="group", event="bot_removed")
