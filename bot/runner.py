"""`helpdesk run`: every configured channel, the outbox drainer and the scheduler in one process."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.app import HelpDesk

log = logging.getLogger(__name__)


async def serve(app: HelpDesk) -> None:
    """Run until SIGTERM/SIGINT, then stop taking messages, finish in-flight work and exit."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    names = ", ".join(sorted(app.channels)) or "none"
    log.info("help desk running; channels: %s", names)
    if not app.channels:
        log.warning("no chat channel is configured (set TELEGRAM_BOT_TOKEN or the Slack variables); "
                    "use `helpdesk console` to chat locally")
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await app.stop()
