"""The app's HTTP server: liveness, readiness (database reachable and migrated), channel routes."""

from __future__ import annotations

import httpx

from bot.app import build_app
from bot.channels.telegram import TelegramChannel
from bot.db import migrate
from bot.http import create_http_app
from bot.settings import Settings


async def test_health_readiness_and_channel_routes(sqlite_settings: Settings) -> None:
    webhook = TelegramChannel("1:x", "http://127.0.0.1:9/bot", webhook_url="https://example.org/tg",
                              webhook_secret="s")
    polling = TelegramChannel("1:x", "http://127.0.0.1:9/bot")
    app = build_app(sqlite_settings, channels={"telegram": webhook})
    http = create_http_app(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=http), base_url="http://t") as client:
        assert (await client.get("/healthz")).text == "ok"
        not_migrated = await client.get("/readyz")
        assert not_migrated.status_code == 503 and "db upgrade" in not_migrated.json()["reason"]
        await migrate.upgrade(app.engine)
        assert (await client.get("/readyz")).json() == {"ready": True}
        assert (await client.post("/telegram/webhook", json={})).status_code == 403  # no secret, no entry
        assert (await client.post("/slack/events", json={})).status_code == 404  # Slack is off
    app.channels["telegram"] = polling
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_http_app(app)),
                                 base_url="http://t") as client:
        assert (await client.post("/telegram/webhook", json={})).status_code == 404  # polling: no webhook route
    await app.engine.dispose()
