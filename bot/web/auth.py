"""Signed session and chat cookies, CSRF tokens (double submit), the web identity of a signed-in person."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from bot.db.models import Identity, table

I = table(Identity)  # noqa: E741
SESSION_AGE = 12 * 3600  # seconds a staff session lasts
CHAT_AGE = 365 * 86400  # seconds a browser keeps its chat
SESSION, CHAT, CSRF = "hd_session", "hd_chat", "hd_csrf"


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
    language: str = "en"  # the staff pages' language unless the switch says otherwise

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

    def csrf_ok(self, request: Request, sent: object) -> bool:
        """Whether the token sent with a POST is the one in the browser's cookie."""
        token = self.get(request, CSRF, CHAT_AGE)
        return isinstance(token, str) and isinstance(sent, str) and bool(sent) and hmac.compare_digest(token, sent)
