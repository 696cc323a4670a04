"""Attacks on the web pages, each shown refused: tossed CSRF cookies, foreign origins, out-of-range URLs, another
queue's tickets, scripted visitors, spoofed X-Forwarded-For, oversized messages (docs/web.md, "Security model")."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from bot.db.models import Ticket, table
from bot.http import HttpServer
from bot.settings import Settings
from tests.desk import Desk, start_desk
from tests.webdesk import BASE, ENERGY_QUESTION, Browser, browser, csrf_of, http_app, login_token

T = table(Ticket)


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    desk = await start_desk(sqlite_settings)
    desk.clock.set(datetime.now(UTC).replace(microsecond=0))
    await desk.staff("amina")  # ENERGY and MRV
    await desk.staff("sofia")  # AFOLU and FINANCE
    await desk.staff("sam", role="secretariat")
    yield desk
    await desk.app.stop()


async def assignee(desk: Desk, ticket: int) -> int | None:
    async with desk.app.engine.connect() as conn:
        return (await conn.execute(select(T.c.assignee_id).where(T.c.id == ticket))).scalar()


async def energy_ticket(desk: Desk, alice: Browser) -> int:
    await alice.say(ENERGY_QUESTION)
    await desk.settle()
    async with desk.app.engine.connect() as conn:
        return int((await conn.execute(select(T.c.id).where(T.c.queue_id == "ENERGY"))).scalar_one())


async def test_a_tossed_csrf_cookie_and_token_pair_is_refused(desk: Desk) -> None:
    app = http_app(desk)
    ticket = await energy_ticket(desk, browser(app))
    attacker = browser(app)
    token = await attacker.csrf("/chat")  # anyone gets a valid cookie and token pair from the chat
    amina = browser(app)
    await amina.sign_in(await login_token(desk, "amina"))
    for name in ("hd_csrf", "hd_chat"):  # planted in the expert's browser (another port of the same host)
        if name in attacker.client.cookies:
            amina.client.cookies.set(name, attacker.client.cookies[name])
    refused = await amina.client.post(f"/inbox/{ticket}", data={"op": "claim", "csrf": token})
    assert refused.status_code == 403 and "Form expired" in refused.text
    assert await assignee(desk, ticket) is None
    own = csrf_of((await amina.client.get(f"/inbox/{ticket}")).text)
    assert own != token
    assert (await amina.client.post(f"/inbox/{ticket}", data={"op": "claim", "csrf": own})).status_code == 303
    assert await assignee(desk, ticket) is not None


async def test_posts_from_another_origin_are_refused_even_with_the_right_token(desk: Desk) -> None:
    app = http_app(desk)
    ticket = await energy_ticket(desk, browser(app))
    amina = browser(app)
    await amina.sign_in(await login_token(desk, "amina"))
    token = await amina.csrf(f"/inbox/{ticket}")
    for headers in ({"Origin": "http://desk.test:8081"}, {"Origin": "http://evil.desk.test"},
                    {"Origin": "https://desk.test"}, {"Sec-Fetch-Site": "same-site", "Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site", "Origin": BASE}):
        refused = await amina.client.post(f"/inbox/{ticket}", data={"op": "claim", "csrf": token}, headers=headers)
        assert refused.status_code == 403, headers
        chat = await amina.client.post("/chat/send", data={"text": "hello"},
                                       headers={"X-CSRF-Token": token, **headers})
        assert chat.status_code == 403 and chat.json()["error"] == "expired", headers
    assert await assignee(desk, ticket) is None
    same = {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}
    claimed = await amina.client.post(f"/inbox/{ticket}", data={"op": "claim", "csrf": token}, headers=same)
    assert claimed.status_code == 303 and await assignee(desk, ticket) is not None
    assert (await amina.client.post("/logout", data={"csrf": token}, headers={"Origin": "http://x.test"})
            ).status_code == 403


async def test_out_of_range_numbers_and_dates_answer_400_or_404_in_the_page_language(desk: Desk) -> None:
    app = http_app(desk)
    ticket = await energy_ticket(desk, browser(app))
    sam = browser(app)
    await sam.sign_in(await login_token(desk, "sam"))
    for path in ("/inbox/99999999999999999999999", "/inbox/9223372036854775808", "/inbox/0"):
        page = await sam.client.get(path)
        assert page.status_code == 404 and "There is no such ticket" in page.text, path
    bad = {f"/inbox/{ticket}?after=" + "9" * 30: "“after” must be a whole number from 0 to 9,223,372,036,854,775,807",
           f"/inbox/{ticket}?after=²": "“after” must be a whole number",
           "/dashboard/tickets?page=99999999999999999999": "“page” must be a whole number from 1 to 100,000",
           "/dashboard/tickets?page=-1": "“page” must be a whole number",
           "/dashboard/tickets.csv?page=0": "“page” must be a whole number",
           "/dashboard/sla.csv?since=0001-01-01": "“since” must be a day from 1970-01-01 to 2999-12-31",
           "/dashboard/sla.csv?until=9999-12-31": "“until” must be a day from 1970-01-01",
           "/dashboard/sla.csv?since=2026-02-30": "“since” must be a day",
           "/dashboard/sla.csv?since=2026-03-01&until=2026-02-01": "“since” must not be after “until”",
           "/dashboard/sla.csv?queue=NOPE": "There is no queue “NOPE”"}
    for path, message in bad.items():
        page = await sam.client.get(path)
        assert page.status_code == 400 and message in page.text, path
    spanish = await sam.client.get("/dashboard/tickets?page=99999999999999999999&lang=es")
    assert spanish.status_code == 400 and "«page» debe ser un número entero de 1 a 100.000" in spanish.text
    french = await sam.client.get("/dashboard/sla.csv?until=9999-12-31&lang=fr")
    assert french.status_code == 400 and "« until » doit être un jour du 1970-01-01 au 2999-12-31" in french.text
    assert (await sam.client.get("/dashboard/sla.csv?since=2026-01-01&until=2026-12-31")).status_code == 200
    assert (await sam.client.get("/dashboard/tickets?page=2")).status_code == 200


def alert(page: str) -> str:
    """What an error page says."""
    return page[page.index('role="alert"'):page.index("</section>")]


async def test_another_queues_ticket_is_refused_like_a_missing_one(desk: Desk) -> None:
    app = http_app(desk)
    energy = await energy_ticket(desk, browser(app))
    sofia = browser(app)  # AFOLU and FINANCE
    await sofia.sign_in(await login_token(desk, "sofia"))
    token = await sofia.csrf("/inbox")
    missing = await sofia.client.post("/inbox/9999", data={"op": "claim", "csrf": token})
    forbidden = await sofia.client.post(f"/inbox/{energy}", data={"op": "claim", "csrf": token})
    assert missing.status_code == forbidden.status_code == 404
    assert alert(forbidden.text) == alert(missing.text) and "There is no such ticket" in alert(missing.text)
    assert "ENERGY" not in forbidden.text and await assignee(desk, energy) is None
    inbox = await sofia.client.get("/inbox")
    assert "ENERGY" not in inbox.text  # no refusal naming the queue waits on her own page either


async def test_chat_refuses_over_long_and_oversized_messages_with_a_notice(desk: Desk) -> None:
    app = http_app(desk)
    alice = browser(app)
    alice.client.headers["Accept-Language"] = "fr"
    token = await alice.csrf("/chat")
    long = await alice.client.post("/chat/send", data={"text": "x" * 4001}, headers={"X-CSRF-Token": token})
    assert long.status_code == 413
    assert long.json()["message"].startswith("Votre message dépasse 4\u202f000 caractères : il n’a pas été envoyé.")
    fits = await alice.client.post("/chat/send", data={"text": "x" * 4000}, headers={"X-CSRF-Token": token})
    assert fits.status_code == 202
    body = await alice.client.post("/chat/send", files={"text": (None, "y" * 1_100_000)},
                                   headers={"X-CSRF-Token": token})  # a part over starlette's 1 MB
    assert body.status_code == 413 and body.json()["message"].startswith("Cela n’a pas pu être envoyé")
    name = await alice.upload("a" * 5000 + ".pdf", b"%PDF-1.4 long name")  # more than a multipart header holds
    assert name.status_code == 413 and "le nom du fichier est trop long" in name.json()["message"]
    async with desk.app.engine.connect() as conn:
        texts = [r.text for r in await conn.execute(select(table(Ticket).c.question))]
    assert all(len(text) <= 4000 for text in texts)


async def test_login_page_sends_no_referrer(desk: Desk) -> None:
    client = browser(http_app(desk)).client
    for method in ("GET", "HEAD"):
        page = await client.request(method, "/login?token=abc")
        assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer", method


async def test_new_visitors_and_their_tickets_are_capped_per_address(sqlite_settings: Settings) -> None:
    settings = sqlite_settings.model_copy(update={"helpdesk_web_new_chats_per_hour": 4,
                                                  "helpdesk_web_tickets_per_hour": 2})
    desk = await start_desk(settings)
    try:
        app = http_app(desk)
        visitors = [browser(app) for _ in range(5)]
        opened = []
        for n, visitor in enumerate(visitors[:4]):  # scripted "visitors", each with a fresh chat cookie
            opened.append(await visitor.say(f"{ENERGY_QUESTION} Village number {n}."))
        assert [r.status_code for r in opened] == [202, 202, 429, 429]
        assert opened[2].json()["message"].startswith("Too many new questions for our experts")
        async with desk.app.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(T))).scalar() == 2
        fifth = await visitors[4].client.get("/chat")
        assert fifth.status_code == 429 and "Too many new conversations" in fifth.text
        assert "hd_chat" not in visitors[4].client.cookies
        follow_up = await visitors[0].say("Our budget is about 2 million dollars.")  # has a ticket: goes on
        assert follow_up.status_code == 202
    finally:
        await desk.app.stop()


@pytest.fixture
async def served(sqlite_settings: Settings, request: pytest.FixtureRequest,
                 no_proxy: None) -> AsyncIterator[str]:
    """The pages on a real local port (uvicorn reads X-Forwarded-For itself), with `request.param` proxies."""
    desk = await start_desk(sqlite_settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = HttpServer(http_app(desk), "127.0.0.1", port, request.param)
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()
        await desk.app.stop()


async def spoofed_posts(url: str) -> list[int]:
    """21 chat posts, each claiming another client address in X-Forwarded-For."""
    async with httpx.AsyncClient(base_url=url) as client:
        token = csrf_of((await client.get("/chat")).text)
        return [(await client.post("/chat/send", data={"text": f"hi {n}"}, headers={
            "X-CSRF-Token": token, "X-Forwarded-For": f"203.0.113.{n}"})).status_code for n in range(21)]


@pytest.mark.parametrize("served", [()], indirect=True)
async def test_x_forwarded_for_is_ignored_unless_from_a_trusted_proxy(served: str) -> None:
    codes = await spoofed_posts(served)
    assert codes[:20] == [202] * 20 and codes[20] == 429  # still one address: the limit holds


@pytest.mark.parametrize("served", [("127.0.0.1",)], indirect=True)
async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(served: str) -> None:
    assert await spoofed_posts(served) == [202] * 21  # the proxy says 21 clients: each is counted alone
