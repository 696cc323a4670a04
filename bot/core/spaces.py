"""Where things are posted: queue spaces, the secretariat space, a person's own chat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import ServiceConfig, Space
from bot.db.models import Identity, Outbox, Person, QueueSpace, table

I = table(Identity)  # noqa: E741
QS = table(QueueSpace)
O = table(Outbox)  # noqa: E741
P = table(Person)


_LINKED = (select(QS.c.channel, QS.c.chat_id).where(QS.c.queue_id == bindparam("queue_id"))
           .order_by(QS.c.channel, QS.c.chat_id))


async def queue_spaces(conn: AsyncConnection, config: ServiceConfig, queue_id: str) -> list[Space]:
    """The chats where a queue's tickets are announced: configured, linked, else the console space."""
    linked = [Space(channel=r.channel, chat=r.chat_id) for r in await conn.execute(_LINKED, {"queue_id": queue_id})]
    spaces = list(dict.fromkeys([*config.queue(queue_id).spaces, *linked]))
    return spaces or [Space(channel="console", chat=f"queue:{queue_id}")]


def secretariat_spaces(config: ServiceConfig) -> list[Space]:
    """The chats the secretariat watches."""
    return list(config.service.secretariat_spaces) or [Space(channel="console", chat="secretariat")]


def newest_private_chat(person_id: Any, *columns: Any) -> Select[Any]:
    """`columns` of a person's newest identity with a private chat: where they are reached privately.

    `person_id` is a bound parameter, or a column for a correlated subquery (e.g. a ticket's assignee).
    """
    return select(*columns).where(I.c.person_id == person_id, I.c.chat_id != "").order_by(I.c.id.desc()).limit(1)


_PRIVATE_CHAT = newest_private_chat(bindparam("person_id"), I.c.channel, I.c.chat_id, P.c.language).join(
    P, P.c.id == I.c.person_id)


async def private_chat(conn: AsyncConnection, person_id: int) -> tuple[str, str, str] | None:
    """(channel, chat, language) where a person can be reached privately (their newest identity), if anywhere."""
    row = (await conn.execute(_PRIVATE_CHAT, {"person_id": person_id})).first()
    return (row.channel, row.chat_id, row.language) if row else None


async def post_and_edits(conn: AsyncConnection, channel: str, chat_id: str, first: int) -> Sequence[Any]:
    """Outbox row `first` of a chat and the later rows named like it (its edits), to rebuild that one post."""
    ref = select(O.c.ref).where(O.c.id == first).scalar_subquery()
    return (await conn.execute(select(O.c.id, O.c.kind, O.c.ref, O.c.text, O.c.buttons, O.c.attachments).where(
        O.c.channel == channel, O.c.chat_id == chat_id, O.c.id >= first, or_(O.c.id == first, O.c.ref == ref)))).all()


async def bot_posts_in(conn: AsyncConnection, channel: str, chat_id: str) -> bool:
    """Whether the bot has posted in this chat (e.g. a Slack thread where it answered a mention)."""
    found = await conn.execute(select(O.c.id).where(O.c.channel == channel, O.c.chat_id == chat_id).limit(1))
    return found.first() is not None
