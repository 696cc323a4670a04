"""One-time web login links: a random token, stored hashed, valid once for 15 minutes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.models import LoginToken, Person, table

LT, P = table(LoginToken), table(Person)
LOGIN_TTL = timedelta(minutes=15)
STAFF_ROLES = ("expert", "secretariat")


def token_hash(token: str) -> str:
    """What the database keeps of a login token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def new_login_token(conn: AsyncConnection, person_id: int, now: datetime) -> str:
    """A fresh single-use token for the person, valid for 15 minutes."""
    token = secrets.token_urlsafe(32)
    await conn.execute(insert(LT).values(token_hash=token_hash(token), person_id=person_id,
                                         expires_at=now + LOGIN_TTL, used_at=None, created_at=now))
    return token


def login_url(base_url: str, token: str) -> str:
    """The link a person opens to sign in."""
    return f"{base_url}/login?token={token}"


async def redeem_login_token(conn: AsyncConnection, token: str, now: datetime) -> int | None:
    """The person of a valid, unused, unexpired token; the token is used up."""
    row = (await conn.execute(select(LT.c.person_id, LT.c.expires_at, LT.c.used_at)
                              .where(LT.c.token_hash == token_hash(token)))).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    used = await conn.execute(update(LT).where(LT.c.token_hash == token_hash(token), LT.c.used_at.is_(None))
                              .values(used_at=now))
    return int(row.person_id) if used.rowcount == 1 else None


async def staff_login_url(conn: AsyncConnection, handle: str, now: datetime, base_url: str) -> str | None:
    """A fresh login link for the expert or secretariat member with this handle (None if there is none)."""
    person = (await conn.execute(select(P.c.id).where(P.c.handle == handle, P.c.role.in_(STAFF_ROLES),
                                                      P.c.blocked.is_(False)))).scalar()
    if person is None:
        return None
    return login_url(base_url, await new_login_token(conn, int(person), now))
