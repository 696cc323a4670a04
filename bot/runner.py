"""`helpdesk run`: every configured channel, the HTTP server, the outbox drainer and the scheduler in one process."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.app import HelpDesk
from bot.channels.base import LiveChannel
from bot.http import HttpServer, create_http_app
from bot.memory import tune_gc
from bot.web.app import web_routes

log = logging.getLogger(__name__)


async def serve(app: HelpDesk, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop`), then shut down in order.

    Shutdown: stop taking updates (the batch in hand is stored and confirmed), finish in-flight
    webhook requests, finish in-flight transactions and the drainer's round (unsent rows stay in the
    outbox for the next start), then close the channels' connections.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    live = [c for c in app.channels.values() if isinstance(c, LiveChannel)]
    settings = app.settings
    await app.start()
    tune_gc()
    server = HttpServer(create_http_app(app, web_routes(app)), settings.helpdesk_http_host,
                        settings.helpdesk_http_port, settings.trusted_proxies)
    started: list[LiveChannel] = []
    try:
        await server.start()
        await app.served_at()
        for channel in live:
            await channel.start(app)
            started.append(channel)
            log.info("channel on: %s", channel.describe())
        log.info("help desk running; channels: %s; http://%s:%s", ", ".join(sorted(app.channels)) or "none",
                 settings.helpdesk_http_host, settings.helpdesk_http_port)
        if not set(app.channels) - {"web"}:
            log.warning("no chat channel is configured (set TELEGRAM_BOT_TOKEN or the Slack variables); "
                        "use `helpdesk console` to chat locally")
        await stop.wait()
    finally:
        log.info("shutting down")
        for channel in started:
            await channel.stop()
        await server.stop()
        await app.stop()
        for channel in live:
            await channel.close()
        log.info("stopped")
