"""Telegram updates as IncomingMessages: what the bot reads, from whom, in which chat.

- Private chats: everything. Groups: only what is addressed to the bot (commands for it, replies to
  its posts, @mentions), exactly what group privacy mode delivers, even when the bot is an admin.
- Callback queries become `action` (the button's data, passed on unchanged and verified by the router).
- Photos and documents become Attachments (file ids, relayed, never downloaded); stickers, polls,
  locations, voice and the like become `unsupported` so the bot can say what it reads.
- An edited message becomes the event "edited": it is not handled again (an answer or ticket already
  followed the original); the handler tells the sender to send the correction as a new message.
- The bot removed from a group (my_chat_member: left/kicked) becomes the event "bot_removed".
- `external_id` is message-based ('chat/message_id'), so an update delivered twice is stored once.
"""

from __future__ import annotations

import re
from dataclasses import replace

from telegram import CallbackQuery, Chat, Message, Update, User
from telegram.constants import ChatMemberStatus, ChatType

from bot.channels.base import post_id
from bot.core.messages import Attachment, IncomingMessage

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
UNSUPPORTED = ("sticker", "animation", "poll", "location", "venue", "contact", "voice", "audio", "video",
               "video_note", "dice", "game", "story")
_REMOVED = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)


def incoming(update: Update, bot_id: int, bot_username: str) -> IncomingMessage | None:
    """The message this update carries for the help desk, or None when there is nothing to handle."""
    if update.callback_query is not None:
        return _button(update.callback_query)
    if update.message is not None:
        return _message(update.message, bot_id, bot_username)
    if update.edited_message is not None:
        return _message(update.edited_message, bot_id, bot_username, edited=True)
    if update.my_chat_member is not None:
        member = update.my_chat_member
        if member.chat.type == ChatType.PRIVATE or member.new_chat_member.status not in _REMOVED:
            return None
        return replace(_base(member.from_user, member.chat, f"member/{update.update_id}"), event="bot_removed",
                       text=member.chat.title or "", received_at=member.date)
    return None


def _base(user: User, chat: Chat, external_id: str) -> IncomingMessage:
    return IncomingMessage(channel=CHANNEL, external_id=external_id, user_id=str(user.id), chat_id=str(chat.id),
                           user_name=user.full_name, language=user.language_code,
                           chat_type="private" if chat.type == ChatType.PRIVATE else "group")


def _button(query: CallbackQuery) -> IncomingMessage | None:
    if query.data is None:
        return None
    chat = query.message.chat if query.message is not None else Chat(query.from_user.id, ChatType.PRIVATE)
    return replace(_base(query.from_user, chat, f"cb/{query.id}"), action=query.data)


def _message(message: Message, bot_id: int, bot_username: str, edited: bool = False) -> IncomingMessage | None:
    user = message.from_user
    if user is None or user.is_bot:
        return None
    text = message.text or message.caption or ""
    if message.chat.type != ChatType.PRIVATE and not _addressed(message, text, bot_id, bot_username):
        return None
    text = re.sub(rf"@{re.escape(bot_username)}\b", "", text, flags=re.IGNORECASE).strip() if bot_username else text
    unsupported = next((kind for kind in UNSUPPORTED if getattr(message, kind, None)), None)
    files = () if unsupported else _attachments(message)
    if not text and not files and unsupported is None:
        return None  # a service message (members joined, title changed, pinned …)
    reply = message.reply_to_message
    if edited:
        stamp = int(message.edit_date.timestamp()) if message.edit_date else 0
        key = f"{post_id(message.chat.id, message.message_id)}/edit/{stamp}"
        return replace(_base(user, message.chat, key), event="edited", text=text, received_at=message.edit_date)
    return replace(_base(user, message.chat, post_id(message.chat.id, message.message_id)), text=text,
                   reply_to=post_id(message.chat.id, reply.message_id) if reply is not None else None,
                   attachments=files, unsupported=unsupported, received_at=message.date)


def _addressed(message: Message, text: str, bot_id: int, bot_username: str) -> bool:
    """In a group: a command (for this bot), a reply to the bot, or an @mention of it."""
    if text.startswith("/"):
        _, at, target = text.split(maxsplit=1)[0].partition("@")
        return not at or target.lower() == bot_username.lower()
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == bot_id:
        return True
    return bool(bot_username) and f"@{bot_username.lower()}" in text.lower()


def _attachments(message: Message) -> tuple[Attachment, ...]:
    if message.photo:
        photo = message.photo[-1]  # the largest size
        return (Attachment("photo", photo.file_id, "photo.jpg", photo.file_size or 0, "image/jpeg", CHANNEL),)
    if message.document is not None:
        doc = message.document
        return (Attachment("document", doc.file_id, doc.file_name or "", doc.file_size or 0, doc.mime_type or "",
                           CHANNEL),)
    return ()
