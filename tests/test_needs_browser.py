"""The needs page in Chromium on seeded data with known counts (tests/needs_seed.py): totals, charts, tables,
the period form and the CSV link."""

from __future__ import annotations

import pytest

from tests.desk import Desk
from tests.needs_seed import seed_needs
from tests.test_web_browser import ARGS, ARTIFACTS, CHROMIUM, DESKTOP, PHONE, WAIT, served
from tests.webdesk import login_token

pytestmark = pytest.mark.browser
__all__ = ["served"]  # the fixture


async def test_the_needs_page_shows_the_seeded_counts_in_chromium(served: tuple[Desk, str]) -> None:
    from playwright.async_api import async_playwright, expect

    desk, url = served
    await seed_needs(desk)
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page = await (await chromium.new_context(viewport=viewport)).new_page()
            await page.goto(f"{url}/login?token={await login_token(desk, 'sam')}")
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("link", name="Needs").click()
            await expect(page.get_by_role("heading", name="Needs", exact=True)).to_be_visible(timeout=WAIT)
            total = page.locator("#needs-total")
            await expect(total).to_have_text("6 questions, 4 tickets, 4 unanswered, 2 escalated.")
            await expect(page.locator("figure.chart > svg")).to_have_count(7)
            kenya = page.locator("table[data-dimension=country] tr", has_text="Kenya")
            await expect(kenya.locator("td")).to_have_text(["Kenya", "3", "2", "2", "1"])
            await expect(page.locator("#needs-topics tbody tr")).to_have_count(1)
            await page.screenshot(path=ARTIFACTS / f"needs-{name}.png", full_page=True)

            await page.get_by_label("From").fill("2026-04-01")
            await page.get_by_role("button", name="Show").click()
            await expect(total).to_have_text("4 questions, 2 tickets, 2 unanswered, 1 escalated.")
            link = await page.get_by_role("link", name="CSV").get_attribute("href")
            assert link is not None and "since=2026-04-01" in link
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"] + 1, f"the needs page scrolls sideways at {viewport['width']} px"
        await chromium.close()
