"""A property test: random path and query values (and form fields) at every staff and chat route, from every kind
of visitor, never make a 500 (nor an exception escaping the app). Bounded examples: it runs in `make test`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.settings import Settings
from tests.desk import Desk, start_desk
from tests.webdesk import BASE, ENERGY_QUESTION, browser, http_app, login_token

GETS = ["/", "/chat", "/chat/history", "/chat/events", "/chat/embed.js", "/files/{v}", "/login", "/inbox",
        "/inbox/{v}", "/dashboard", "/dashboard/charts", "/dashboard/tickets", "/dashboard/experts", "/dashboard/kb",
        "/dashboard/people", "/dashboard/sla.csv", "/dashboard/tickets.csv", "/metrics"]
POSTS = ["/chat/send", "/chat/upload", "/chat/code", "/chat/redeem", "/login", "/logout", "/inbox/{v}"]
PARAMS = ["page", "after", "since", "until", "queue", "state", "q", "lang", "token", "code", "embed", "id"]
FIELDS = ["op", "target", "text", "action", "code", "token"]
EDGES = ["9" * 30, "99999999999999999999", "9223372036854775808", "0", "-1", "²", "١٢", "1e9", "NaN", "",
         "0001-01-01", "9999-12-31", "2026-02-30", "2026-03-01", "ENERGY", "claim", "reply", "../../etc/passwd",
         "\x1b[2J", "%00", "<script>"]
values = st.one_of(st.sampled_from(EDGES), st.integers(-10**25, 10**25).map(str), st.dates().map(str),
                   st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
path_values = st.one_of(st.sampled_from(["1", "2", "0", "9" * 25, "18446744073709551616"]),
                        st.integers(0, 10**22).map(str))


@dataclass
class Visitor:
    """A browser's cookies and the CSRF token its pages carry."""

    cookies: httpx.Cookies
    csrf: str


@pytest.fixture
async def site(sqlite_settings: Settings,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Desk, httpx.ASGITransport, list[Visitor]]]:
    monkeypatch.setattr("bot.web.app.CHAT_POSTS", 10**6)  # the per-minute limit would only answer 429s
    desk = await start_desk(sqlite_settings.model_copy(update={"helpdesk_web_new_chats_per_hour": 10**6}))
    await desk.staff("sofia")  # AFOLU, FINANCE: not the ticket's queue
    await desk.staff("amina")  # ENERGY
    await desk.staff("sam", role="secretariat")
    app = http_app(desk)
    visitors = []
    chat = browser(app)
    await chat.say(ENERGY_QUESTION)
    visitors.append(Visitor(chat.client.cookies, await chat.csrf("/chat")))
    anonymous = browser(app)
    visitors.append(Visitor(anonymous.client.cookies, await anonymous.csrf("/login")))
    for handle in ("sofia", "amina", "sam"):
        staff = browser(app)
        await staff.sign_in(await login_token(desk, handle))
        visitors.append(Visitor(staff.client.cookies, await staff.csrf("/inbox")))
    yield desk, httpx.ASGITransport(app=app), visitors
    await desk.app.stop()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_no_route_answers_500_to_random_values(site: tuple[Desk, httpx.ASGITransport, list[Visitor]],
                                                     data: st.DataObject) -> None:
    """Each example: one visitor calls every route once, each with its own random path value, query and form."""
    desk, transport, visitors = site
    visitor = data.draw(st.sampled_from(visitors), label="visitor")
    async with httpx.AsyncClient(transport=transport, base_url=BASE, cookies=httpx.Cookies(visitor.cookies)) as c:
        for method, route in [("GET", r) for r in GETS] + [("POST", r) for r in POSTS]:
            if route == "/chat/events" and "hd_chat" in c.cookies:
                continue  # a chat's event stream never ends (its refusals are tested by the other visitors)
            path = route.replace("{v}", data.draw(path_values, label="path value"))
            query = data.draw(st.dictionaries(st.sampled_from(PARAMS), values, max_size=5), label=f"{route} query")
            if method == "POST":
                form = data.draw(st.dictionaries(st.sampled_from(FIELDS), values, max_size=3), label="form")
                token = data.draw(st.sampled_from([visitor.csrf, visitor.csrf, "", "x" * 40]), label="csrf")
                if route == "/logout":
                    token = "x"  # a real sign-out ends every session of the person: the later examples need them
                response = await c.post(path, params=query, data={**form, "csrf": token},
                                        headers={"X-CSRF-Token": token})
            else:
                response = await c.get(path, params=query)
            assert response.status_code < 500, (method, path, query, response.text[:300])
    await desk.settle()
