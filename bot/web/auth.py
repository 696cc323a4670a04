"""One-time login links, signed session and chat cookies, CSRF tokens (double submit)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from bot.db.models import Identity, LoginToken, Person, table

LT, P, I = table(LoginToken), table(Person), table(Identity)  # noqa: E741
LOGIN_TTL = timedelta(minutes=15)
SESSION_AGE = 12 * 3600  # seconds a staff session lasts
CHAT_AGE = 365 * 86400  # seconds a browser keeps its chat
SESSION, CHAT, CSRF = "hd_session", "hd_chat", "hd_csrf"
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


async def web_identity(conn: AsyncConnection, person_id: int, now: datetime) -> str:
    """The person's account on the web channel (created on first use): its user and chat id."""
    found = (await conn.execute(select(I.c.external_user_id).where(I.c.channel == "web",
                                                                   I.c.person_id == person_id))).scalar()
    if found is not None:
        return str(found)
    user_id = f"p{person_id}-{secrets.token_hex(4)}"
    await conn.execute(insert(I).values(person_id=person_id, channel="web", external_user_id=user_id,
                                        chat_id=user_id, created_at=now))
    return user_id


@dataclass(frozen=True)
class Viewer:
    """The signed-in person."""

    id: int
    role: str
    name: str
    timezone: str
    web_user: str

    @property
    def is_secretariat(self) -> bool:
        """Sees every queue and the dashboard."""
        return self.role == "secretariat"


class Cookies:
    """Signs and reads the session, chat and CSRF cookies."""

    def __init__(self, key: bytes, secure: bool) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="helpdesk-web")
        self._secure = secure

    def set(self, response: Response, name: str, value: Any, max_age: int) -> None:
        """Store a signed value in an HttpOnly, SameSite=Lax cookie."""
        response.set_cookie(name, self._serializer.dumps(value), max_age=max_age, httponly=True, samesite="lax",
                            secure=self._secure)

    def get(self, request: Request, name: str, max_age: int) -> Any:
        """The value of a cookie whose signature and age check out, else None."""
        raw = request.cookies.get(name)
        if not raw:
            return None
        try:
            return self._serializer.loads(raw, max_age=max_age)
        except BadSignature:
            return None

    def csrf(self, request: Request) -> str:
        """The browser's CSRF token (a new one when it has none; `ensure_csrf` stores it)."""
        token = self.get(request, CSRF, CHAT_AGE)
        return token if isinstance(token, str) else secrets.token_urlsafe(24)

    def ensure_csrf(self, request: Request, response: Response, token: str) -> None:
        """Store the CSRF token the page was rendered with when the browser does not have it yet."""
        if self.get(request, CSRF, CHAT_AGE) != token:
            self.set(response, CSRF, token, CHAT_AGE)

    def csrf_ok(self, request: Request, sent: str | None) -> bool:
        """Whether the token sent with a POST is the one in the browser's cookie."""
        token = self.get(request, CSRF, CHAT_AGE)
        return isinstance(token, str) and bool(sent) and hmac.compare_digest(token, str(sent))
