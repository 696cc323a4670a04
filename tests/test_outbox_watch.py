"""The secretariat hears about replies piling up in the outbox, once an hour at most."""

from __future__ import annotations

from datetime import timedelta

from bot.core.outbox_watch import warn_if_backed_up
from bot.settings import Settings
from tests.desk import start_desk


async def test_backlog_warning_once_an_hour(any_settings: Settings) -> None:
    desk = await start_desk(any_settings, with_kb=False)
    try:
        alice = desk.practitioner("alice", lang="en", channel="slack")
        del desk.app.drainer._channels["slack"]  # type: ignore[union-attr]  # Slack is down: replies wait
        await alice.says("hello")
        services, now = desk.app.services, desk.clock.now()
        assert services is not None
        assert not await warn_if_backed_up(desk.app.engine, services, now + timedelta(minutes=5))
        assert await warn_if_backed_up(desk.app.engine, services, now + timedelta(minutes=11))
        assert not await warn_if_backed_up(desk.app.engine, services, now + timedelta(minutes=40))
        assert await warn_if_backed_up(desk.app.engine, services, now + timedelta(minutes=80))
        await desk.advance(timedelta(minutes=81))
        warnings = [p.text for p in desk.channel("console").posts["secretariat"]]
        assert len(warnings) == 2 and "1 waiting to be sent" in warnings[0]
    finally:
        await desk.app.stop()
