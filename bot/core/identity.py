"""Who is writing: find the person behind (channel, user), creating them on first contact."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, exists, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import ServiceInfo
from bot.core.context import ConversationState, Person
from bot.core.messages import IncomingMessage
from bot.core.tickets import OPEN_STATES, REOPENABLE, reopen_since
from bot.db.driver import fetch, insert_rows
from bot.db.models import Conversation, Identity, Ticket, table
from bot.db.models import Person as PersonRow
from bot.db.sql import array_rows, per_dialect
from bot.i18n import LANGUAGES, normalise_language
from kb.language import detect_language

P = table(PersonRow)
I = table(Identity)  # noqa: E741
C = table(Conversation)
T = table(Ticket)

_COLUMNS = (P.c.id, P.c.role, P.c.language, P.c.display_name, P.c.handle, P.c.timezone, P.c.blocked,
            P.c.language_chosen)
# Whether a person has an open ticket, or one their next message reopens.
_HAS_TICKET = exists().where(T.c.person_id == P.c.id, T.c.state.in_(OPEN_STATES) | REOPENABLE)


def _senders_statement(dialect: str) -> Select[Any]:
    """The people behind a list of (channel, user) keys, with where they are in a dialogue and whether
    they have a ticket (built once per database kind: every batch runs it)."""
    key = tuple_(I.c.channel, I.c.external_user_id)
    among: ColumnElement[bool]
    if dialect == "postgresql":
        keys = array_rows(channel=I.c.channel.type, user=I.c.external_user_id.type)
        among = key.in_(select(keys.c.channel, keys.c.user))
    else:
        among = key.in_(bindparam("keys", expanding=True))
    return (select(I.c.channel, I.c.external_user_id, I.c.chat_id, *_COLUMNS, C.c.state, C.c.data,
                   _HAS_TICKET.label("has_ticket"))
            .join(P, P.c.id == I.c.person_id).outerjoin(C, C.c.person_id == P.c.id).where(among))


_SENDERS = per_dialect(_senders_statement)


def first_language(msg: IncomingMessage, default: str) -> str:
    """The language of a new person: what the channel says, else what the text looks like."""
    if msg.language and normalise_language(msg.language) == msg.language.split("-")[0].lower():
        return normalise_language(msg.language)
    if msg.text.strip() and not msg.text.startswith("/"):
        return detect_language(msg.text, LANGUAGES, default)
    return default


async def resolve_people(conn: AsyncConnection, messages: Sequence[IncomingMessage], now: datetime,
                         service: ServiceInfo) -> dict[tuple[str, str], Person]:
    """The person of every message's sender, in one query (plus two inserts for all newcomers).

    Each comes with their conversation and whether they have an open ticket or one their next message
    reopens (one object per person, however many identities of theirs wrote).
    """
    keys = list({(m.channel, m.user_id) for m in messages})
    people: dict[tuple[str, str], Person] = {}
    chats: dict[tuple[str, str], str] = {}
    conversations: dict[int, ConversationState] = {}
    params: dict[str, Any] = {"since": reopen_since(service, now)}
    if conn.dialect.name == "postgresql":  # see _senders_statement
        params |= {"channel": [channel for channel, _ in keys], "user": [user for _, user in keys]}
    else:
        params["keys"] = keys
    for (channel, user, chat_id, person_id, role, language, name, handle, timezone, blocked, chosen, state, data,
         has_ticket) in await fetch(conn, _SENDERS(conn), params):
        key = (channel, user)
        chats[key] = chat_id
        if person_id not in conversations:
            conversations[person_id] = ConversationState(state or "", dict(data or {}))
        people[key] = Person(person_id, role, language, name, handle, timezone, blocked, bool(chosen),
                             conversation=conversations[person_id], has_ticket=bool(has_ticket))
    newcomers: dict[tuple[str, str], IncomingMessage] = {}
    for msg in messages:
        key = (msg.channel, msg.user_id)
        if key not in people:
            newcomers.setdefault(key, msg)
        elif msg.chat_type == "private" and chats.get(key) != msg.chat_id:
            await conn.execute(update(I).where(I.c.channel == msg.channel, I.c.external_user_id == msg.user_id)
                               .values(chat_id=msg.chat_id))
            chats[key] = msg.chat_id
    if newcomers:
        people |= await _create(conn, list(newcomers.values()), now, service.default_language)
    return people


async def _create(conn: AsyncConnection, messages: list[IncomingMessage], now: datetime,
                  default_lang: str) -> dict[tuple[str, str], Person]:
    """New practitioners for the senders of these messages: two statements, however many they are."""
    people = [Person(0, "practitioner", first_language(m, default_lang), m.user_name or f"{m.channel}:{m.user_id}",
                     is_new=True) for m in messages]
    ids = await insert_rows(conn, P, [
        {"display_name": p.display_name, "role": p.role, "language": p.language, "language_chosen": False,
         "timezone": "UTC",
         "blocked": False, "created_at": now} for p in people], ids=True)
    for person, person_id in zip(people, ids, strict=True):
        person.id = person_id
    await insert_rows(conn, I, [
        {"person_id": p.id, "channel": m.channel, "external_user_id": m.user_id,
         "chat_id": m.chat_id if m.chat_type == "private" else "", "username": m.user_name or None,
         "created_at": now} for m, p in zip(messages, people, strict=True)])
    return {(m.channel, m.user_id): p for m, p in zip(messages, people, strict=True)}
