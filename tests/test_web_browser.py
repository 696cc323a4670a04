"""Browser tests: Playwright drives Debian's Chromium against the real HTTP server (screenshots in tests/artifacts)."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.http import HttpServer
from bot.settings import Settings
from tests.desk import Desk, start_desk
from tests.webdesk import ENERGY_QUESTION, FAQ_QUESTION, http_app, login_token

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 375, "height": 760}
WAIT = 10_000  # ms


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("HELPDESK_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
async def served(sqlite_settings: Settings) -> AsyncIterator[tuple[Desk, str]]:
    """A help desk with its drainer running, served on a free local port."""
    _require_chromium()
    desk = await start_desk(sqlite_settings)
    await desk.staff("amina")
    await desk.staff("sam", role="secretariat")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = HttpServer(http_app(desk), "127.0.0.1", port)
    await server.start()
    assert desk.app.drainer is not None
    await desk.app.drainer.start()
    try:
        yield desk, f"http://127.0.0.1:{port}"
    finally:
        await server.stop()
        await desk.app.stop()


async def test_chat_inbox_and_dashboard_in_chromium(served: tuple[Desk, str]) -> None:
    from playwright.async_api import async_playwright, expect

    desk, url = served
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        practitioner = await (await chromium.new_context(viewport=DESKTOP)).new_page()
        await practitioner.goto(f"{url}/chat")
        question = practitioner.get_by_label("Your question")
        await question.fill(FAQ_QUESTION)
        await question.press("Enter")
        await expect(practitioner.locator(".msg.bot").first).to_contain_text("transparency", ignore_case=True,
                                                                             timeout=WAIT)
        await question.fill(ENERGY_QUESTION)
        await practitioner.get_by_role("button", name="Send").click()
        await expect(practitioner.locator(".msg.bot", has_text="ENERGY queue")).to_be_visible(timeout=WAIT)
        await practitioner.get_by_label("Attach a file").set_input_files(
            files=[{"name": "pump-datasheet.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 datasheet"}])
        await question.fill("Our pump datasheet")
        await practitioner.get_by_role("button", name="Send").click()
        await expect(practitioner.get_by_role("link", name="pump-datasheet.pdf")).to_be_visible(timeout=WAIT)
        await expect(practitioner.locator(".msg.bot", has_text="Added to ticket")).to_be_visible(timeout=WAIT)
        await practitioner.screenshot(path=ARTIFACTS / "chat-desktop.png", full_page=True)

        expert = await (await chromium.new_context(viewport=DESKTOP)).new_page()
        await expert.goto(f"{url}/login?token={await login_token(desk, 'amina')}")
        await expert.get_by_role("button", name="Sign in").click()
        await expect(expert.get_by_role("heading", name="Inbox")).to_be_visible()
        await expert.screenshot(path=ARTIFACTS / "inbox-desktop.png", full_page=True)
        await expert.get_by_role("link", name="irrigation pumps").first.click()
        async with expert.expect_download() as download:  # the practitioner's file, on the ticket's thread
            await expert.get_by_role("link", name="pump-datasheet.pdf").click()
        assert (await download.value).suggested_filename == "pump-datasheet.pdf"
        await expert.get_by_role("button", name="Claim").click()
        await expect(expert.locator(".flash")).to_contain_text("is yours")
        await expert.get_by_label("Reply to the practitioner").fill("Use a block tariff with prepaid metering.")
        await expert.get_by_role("button", name="Send reply").click()
        await expert.screenshot(path=ARTIFACTS / "ticket-desktop.png", full_page=True)
        await expect(practitioner.locator(".msg.bot", has_text="block tariff")).to_be_visible(timeout=WAIT)  # live
        await practitioner.screenshot(path=ARTIFACTS / "chat-answered-desktop.png", full_page=True)
        await practitioner.set_viewport_size(PHONE)
        await practitioner.screenshot(path=ARTIFACTS / "chat-answered-phone.png", full_page=True)
        assert await practitioner.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        await practitioner.goto(f"{url}/dashboard")
        await expect(practitioner.get_by_role("heading", name="Please sign in")).to_be_visible()
        await practitioner.screenshot(path=ARTIFACTS / "dashboard-refused.png")

        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            secretariat = await (await chromium.new_context(viewport=viewport)).new_page()
            await secretariat.goto(f"{url}/login?token={await login_token(desk, 'sam')}")
            await secretariat.get_by_role("button", name="Sign in").click()
            await expect(secretariat.get_by_role("heading", name="Overview")).to_be_visible()
            await secretariat.screenshot(path=ARTIFACTS / f"dashboard-{name}.png", full_page=True)
            await secretariat.goto(f"{url}/dashboard/charts")
            await expect(secretariat.locator("figure.chart > svg")).to_have_count(5)
            await secretariat.screenshot(path=ARTIFACTS / f"charts-{name}.png", full_page=True)
            await secretariat.goto(f"{url}/chat")
            await secretariat.screenshot(path=ARTIFACTS / f"chat-{name}.png", full_page=True)
            width = await secretariat.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"the chat scrolls sideways at {viewport['width']} px"
        await chromium.close()
    if os.environ.get("HELPDESK_UPDATE_DOCS") == "1":  # refresh the README's screenshot
        shutil.copy(ARTIFACTS / "dashboard-desktop.png", ROOT / "docs" / "dashboard.png")


async def test_cookie_tossing_from_another_port_cannot_act_for_a_signed_in_expert(served: tuple[Desk, str]) -> None:
    """A page on another port of the same host plants its own chat cookie and CSRF token in the expert's browser
    (cookies do not keep ports apart) and posts a claim with the matching token: refused, nothing claimed."""
    import httpx
    from playwright.async_api import async_playwright, expect
    from sqlalchemy import select
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from bot.db.models import Ticket, table
    from tests.webdesk import csrf_of

    desk, url = served
    await desk.practitioner("alice", lang="en").says(ENERGY_QUESTION)
    ticket = desk.queue("ENERGY").sees_new_ticket().text.split("#")[1].split()[0]
    async with httpx.AsyncClient(base_url=url) as outsider:  # anyone may fetch a cookie and token pair
        token = csrf_of((await outsider.get("/chat")).text)
        planted = dict(outsider.cookies.items())

    async def toss(request: Request) -> HTMLResponse:
        page = HTMLResponse(f"""<form method="post" action="{url}/inbox/{ticket}">
            <input name="op" value="claim"><input name="csrf" value="{token}"></form>
            <script>document.forms[0].submit()</script>""")
        for name, value in planted.items():
            page.set_cookie(name, value, httponly=True, samesite="lax")
        return page

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attacker = HttpServer(Starlette(routes=[Route("/toss", toss)]), "127.0.0.1", port)
    await attacker.start()
    try:
        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = await chromium.new_context(viewport=DESKTOP)
            expert = await context.new_page()
            await expert.goto(f"{url}/login?token={await login_token(desk, 'amina')}")
            await expert.get_by_role("button", name="Sign in").click()
            await expect(expert.get_by_role("heading", name="Inbox")).to_be_visible()
            await expert.goto(f"http://127.0.0.1:{port}/toss")  # the page posts the claim at once
            await expert.wait_for_url(f"{url}/inbox/{ticket}**", timeout=WAIT)
            await expect(expert.get_by_role("heading", name="Form expired")).to_be_visible(timeout=WAIT)
            assert {c["name"] for c in await context.cookies(url)} >= set(planted)  # the cookies were planted
            await expert.goto(f"{url}/inbox/{ticket}")  # her own page still works, with her own token
            await expect(expert.get_by_role("button", name="Claim")).to_be_visible()
            await chromium.close()
    finally:
        await attacker.stop()
    async with desk.app.engine.connect() as conn:
        row = (await conn.execute(select(table(Ticket).c.assignee_id, table(Ticket).c.state).where(
            table(Ticket).c.id == int(ticket)))).one()
    assert row.assignee_id is None and row.state == "new"


async def test_the_chat_shows_refusals_as_notices_in_the_page_language(served: tuple[Desk, str]) -> None:
    from playwright.async_api import async_playwright, expect

    _, url = served
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await (await chromium.new_context(viewport=DESKTOP, locale="fr-FR")).new_page()
        await page.goto(f"{url}/chat?lang=fr")
        question = page.locator("#text")
        await question.evaluate("(box, text) => { box.value = text; }", "x" * 4001)  # past the box's maxlength
        await question.press("Enter")
        await expect(page.locator(".msg.bot", has_text="dépasse 4\u202f000 caractères")).to_be_visible(timeout=WAIT)
        await expect(page.locator(".msg.me.failed")).to_have_count(1)
        await page.locator("#file").set_input_files(
            files=[{"name": "a" * 5000 + ".pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4"}])
        await question.fill("Notre fiche technique")
        await question.press("Enter")
        await expect(page.locator(".msg.bot", has_text="le nom du fichier est trop long")).to_be_visible(timeout=WAIT)


async def test_answers_to_button_presses_are_shown_once_while_the_page_is_open(served: tuple[Desk, str]) -> None:
    """A button's answer is a post (by the stream) and was also shown as a notice: now only the post."""
    import asyncio

    from playwright.async_api import async_playwright, expect

    _desk, url = served
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await (await chromium.new_context(viewport=DESKTOP)).new_page()
        await page.goto(f"{url}/chat")
        question = page.get_by_label("Your question")
        await question.fill(FAQ_QUESTION)
        await question.press("Enter")
        await page.get_by_role("button", name="I still need an expert").click()
        opened = page.locator(".msg.bot", has_text="Your question is ticket #")
        await expect(opened.first).to_be_visible(timeout=WAIT)
        await page.get_by_role("button", name="Not now").first.click()
        skipped = page.locator(".msg.bot", has_text="No problem. You can do it later")
        await expect(skipped.first).to_be_visible(timeout=WAIT)
        await asyncio.sleep(1.0)  # anything shown twice has arrived by now
        assert (await opened.count(), await skipped.count()) == (1, 1)
        await page.reload()
        await expect(skipped.first).to_be_visible(timeout=WAIT)
        assert (await opened.count(), await skipped.count()) == (1, 1)
        await chromium.close()
