"""A help desk with its web pages for HTTP and browser tests: sign-in links, CSRF tokens, the chat cookie."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette

from bot.core.login import new_login_token, staff_login_url
from bot.http import create_http_app
from bot.web.app import web_routes
from tests.desk import Desk

BASE = "http://desk.test"
ENERGY_QUESTION = "Our ministry needs a tariff for solar irrigation pumps in off-grid villages; what do you recommend?"
TRANSPORT_QUESTION = "How do we regulate motorcycle taxis to cut emissions in our capital?"
FAQ_QUESTION = "What does a Biennial Transparency Report contain?"


def http_app(desk: Desk) -> Starlette:
    """The app's HTTP server with the web pages."""
    return create_http_app(desk.app, web_routes(desk.app))


def csrf_of(page: str) -> str:
    """The CSRF token a page carries."""
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


@dataclass
class Browser:
    """An httpx client with its own cookies, like one browser."""

    client: httpx.AsyncClient

    async def csrf(self, path: str = "/login") -> str:
        """Open a page and return its CSRF token (the cookie is now set)."""
        return csrf_of((await self.client.get(path)).text)

    async def sign_in(self, token: str) -> httpx.Response:
        """Use a login link the way the login page does."""
        csrf = csrf_of((await self.client.get(f"/login?token={token}")).text)
        return await self.client.post("/login", data={"token": token, "csrf": csrf})

    async def say(self, text: str) -> httpx.Response:
        """Write in the web chat."""
        csrf = await self.csrf("/chat")
        return await self.client.post("/chat/send", data={"text": text}, headers={"X-CSRF-Token": csrf})

    async def upload(self, name: str, content: bytes, text: str = "") -> httpx.Response:
        """Send a file (with an optional caption) in the web chat."""
        csrf = await self.csrf("/chat")
        return await self.client.post("/chat/upload", data={"text": text}, files={"file": (name, content)},
                                      headers={"X-CSRF-Token": csrf})

    async def history(self) -> list[dict[str, object]]:
        return list((await self.client.get("/chat/history")).json())


def browser(app: Starlette) -> Browser:
    """A new browser on the app (in-process)."""
    return Browser(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE))


async def login_token(desk: Desk, handle: str) -> str:
    """A fresh login token for a staff member, as `helpdesk users login-link` makes it."""
    async with desk.app.engine.begin() as conn:
        url = await staff_login_url(conn, handle, desk.clock.now(), BASE)
    assert url is not None
    return url.rsplit("=", 1)[1]


async def person_token(desk: Desk, person_id: int) -> str:
    """A login token for anyone (e.g. a practitioner, to test role checks)."""
    async with desk.app.engine.begin() as conn:
        return await new_login_token(conn, person_id, desk.clock.now())
