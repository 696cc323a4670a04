"""Linking: one person across channels (one-time codes), and chats linked to queues as their spaces."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Column, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.models import Base, Conversation, LinkCode, Person, QueueMember, QueueSpace, table
from bot.db.sql import insert_ignore

P, LC, QM, C, QS = table(Person), table(LinkCode), table(QueueMember), table(Conversation), table(QueueSpace)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=10)
PROFILE_FIELDS = ("country", "institution", "job_title", "sector", "region")
ROLE_RANK = {"practitioner": 0, "expert": 1, "secretariat": 2}


async def new_code(conn: AsyncConnection, person_id: int, now: datetime) -> str:
    """A fresh one-time code for the person (their older codes and everyone's expired ones go)."""
    await conn.execute(delete(LC).where(or_(LC.c.expires_at < now, LC.c.person_id == person_id)))
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    await conn.execute(insert(LC).values(code=code, person_id=person_id, expires_at=now + CODE_TTL))
    return code


async def redeem_code(conn: AsyncConnection, code: str, now: datetime) -> int | None:
    """The person who issued `code` if it is valid; the code is used up either way."""
    cleaned = code.strip().upper().replace(" ", "").replace("-", "")
    row = (await conn.execute(delete(LC).where(LC.c.code == cleaned)
                              .returning(LC.c.person_id, LC.c.expires_at))).first()
    if row is None or row.expires_at < now:
        return None
    return int(row.person_id)


async def may_link(conn: AsyncConnection, owner: int, redeemer_role: str) -> bool:
    """Rights never flow to the code's owner: a staff account must issue the code, not redeem it."""
    owner_role = (await conn.execute(select(P.c.role).where(P.c.id == owner))).scalar()
    return ROLE_RANK.get(redeemer_role, 0) <= ROLE_RANK.get(str(owner_role), 0)


def _person_references() -> list[Column[int]]:
    """Every column that points at person.id (found from the schema, so new tables are covered)."""
    return [fk.parent for t in Base.metadata.sorted_tables for fk in t.foreign_keys
            if fk.column.table.name == P.name and t.name != P.name]


async def merge_people(conn: AsyncConnection, keep: int, drop: int) -> None:
    """Make `drop` part of `keep`: identities, tickets, messages and the rest move; the profile is completed.

    The kept person keeps their role and gets the drop's profile fields and handle they lack; the
    drop's conversation state and link codes are discarded. Callers check `may_link` first.
    """
    kept, dropped = [(await conn.execute(select(P).where(P.c.id == pid))).one() for pid in (keep, drop)]
    await conn.execute(delete(C).where(C.c.person_id == drop))
    await conn.execute(delete(LC).where(LC.c.person_id == drop))
    await conn.execute(delete(QM).where(QM.c.person_id == drop,
                                        QM.c.queue_id.in_(select(QM.c.queue_id).where(QM.c.person_id == keep))))
    for column in _person_references():
        await conn.execute(update(column.table).where(column == drop).values({column.name: keep}))
    values: dict[str, object] = {f: getattr(dropped, f) for f in PROFILE_FIELDS
                                 if getattr(kept, f) is None and getattr(dropped, f) is not None}
    values["blocked"] = kept.blocked or dropped.blocked
    await conn.execute(delete(P).where(P.c.id == drop))
    if kept.handle is None and dropped.handle is not None:
        values["handle"] = dropped.handle
    await conn.execute(update(P).where(P.c.id == keep).values(**values))


async def link_space(conn: AsyncConnection, queue_id: str, channel: str, chat_id: str, now: datetime) -> None:
    """Announce the queue's tickets in this chat too."""
    await conn.execute(insert_ignore(conn, QS, ["queue_id", "channel", "chat_id"])
                       .values(queue_id=queue_id, channel=channel, chat_id=chat_id, created_at=now))


async def unlink_chat(conn: AsyncConnection, channel: str, chat_id: str) -> list[str]:
    """Forget a chat as a space of any queue; return the queues it was linked to."""
    rows = await conn.execute(delete(QS).where(QS.c.channel == channel, QS.c.chat_id == chat_id)
                              .returning(QS.c.queue_id))
    return sorted(r.queue_id for r in rows)
