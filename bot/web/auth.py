"""Signed session and chat cookies, CSRF tokens bound to them, the same-origin check, the web identity of a
signed-in person.

A CSRF token is an HMAC of what the browser is signed in with: the staff session's random id, else the chat
user, else a random id in its own cookie (the sign-in form). A token fetched by someone else and planted in
another browser (cookie tossing from another port or a sibling subdomain) is worthless there.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

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
        self._csrf_key = hmac.new(key, b"helpdesk-csrf", hashlib.sha256).digest()
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

    def binding(self, request: Request, chat: str | None = None) -> str | None:
        """What this browser's CSRF token is bound to (None: nothing yet); `chat`: a chat user being given now."""
        session = self.get(request, SESSION, SESSION_AGE)
        if isinstance(session, dict) and isinstance(session.get("s"), str):
            return "session:" + session["s"]
        chat = chat or self.get(request, CHAT, CHAT_AGE)
        if isinstance(chat, str):
            return "chat:" + chat
        anonymous = self.get(request, CSRF, CHAT_AGE)
        return "anonymous:" + anonymous if isinstance(anonymous, str) else None

    def csrf_token(self, binding: str) -> str:
        """The CSRF token of a binding (see `binding`)."""
        digest = hmac.new(self._csrf_key, binding.encode(), hashlib.sha256).digest()
        return urlsafe_b64encode(digest).decode().rstrip("=")

    def csrf(self, request: Request, chat: str | None = None) -> tuple[str, str | None]:
        """The token for the forms of a page, and the random id to store (`keep`) when the browser was bound to
        nothing yet."""
        binding = self.binding(request, chat)
        if binding is not None:
            return self.csrf_token(binding), None
        anonymous = secrets.token_urlsafe(24)
        return self.csrf_token("anonymous:" + anonymous), anonymous

    def keep(self, response: Response, anonymous: str | None) -> None:
        """Store the random id a page's token was bound to (see `csrf`)."""
        if anonymous is not None:
            self.set(response, CSRF, anonymous, CHAT_AGE)

    def csrf_ok(self, request: Request, sent: object) -> bool:
        """Whether the token sent with a POST is this browser's."""
        binding = self.binding(request)
        return (binding is not None and isinstance(sent, str) and bool(sent)
                and hmac.compare_digest(self.csrf_token(binding), sent))


def same_origin(request: Request, public_url: str) -> bool:
    """Whether a state-changing request may come from where the browser says it does.

    Browsers say where a request comes from: only this site's own pages (or the person, typing) may post; another
    port of the same host or a sibling subdomain may not. Sec-Fetch-Site decides when the browser sends it, else
    Origin ('null' after a no-referrer page says nothing). A client that says neither (not a browser) is left to
    the CSRF token.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    sent = _origin(origin)
    return sent is not None and sent in (_origin(public_url), _origin(str(request.base_url)))


def _origin(url: str) -> str | None:
    """'https://Desk.example.org:443/x' → 'https://desk.example.org' (scheme, host and any port that is not the
    scheme's default); None for what is no origin ('null', a bad port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    shown = f":{port}" if port not in (None, {"http": 80, "https": 443}[parts.scheme]) else ""
    return f"{parts.scheme}://{parts.hostname}{shown}"
