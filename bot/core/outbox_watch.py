"""Warn the secretariat when replies pile up in the outbox (a channel down or rate-limited for long)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.context import Context, Effects
from bot.core.services import Services
from bot.core.spaces import secretariat_spaces
from bot.db.models import AppSetting, Outbox, table
from bot.db.sql import insert_ignore
from bot.i18n import t

O, S = table(Outbox), table(AppSetting)  # noqa: E741
WARNED_KEY = "outbox_warned_at"
QUIET = timedelta(hours=1)


async def warn_if_backed_up(engine: AsyncEngine, services: Services, now: datetime) -> bool:
    """Post one warning (at most one an hour, across processes) when the oldest unsent reply is too old."""
    limit = timedelta(minutes=services.config.service.outbox_warn_minutes)
    async with engine.begin() as conn:
        depth, oldest = (await conn.execute(select(func.count(), func.min(O.c.created_at))
                                            .where(O.c.status.in_(("pending", "sending"))))).one()
        if not depth or oldest is None or now - oldest < limit:
            return False
        await conn.execute(insert_ignore(conn, S, ["key"]).values(key=WARNED_KEY, value=""))
        claimed = await conn.execute(update(S).where(S.c.key == WARNED_KEY, S.c.value < (now - QUIET).isoformat())
                                     .values(value=now.isoformat()))
        if not claimed.rowcount:
            return False
        effects = Effects()
        ctx = Context.system(services, conn, effects, now)
        minutes = int((now - oldest).total_seconds() // 60)
        for space in secretariat_spaces(services.config):
            ctx.send(space.channel, space.chat, t("outbox.backlog", services.config.service.default_language,
                                                  depth=depth, minutes=minutes))
        await effects.write(conn)
    return True
