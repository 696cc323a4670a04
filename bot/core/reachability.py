"""Who can be reached: a delivery that fails for good marks the person unreachable and tells the secretariat."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.context import Context, Effects
from bot.core.services import Services
from bot.core.spaces import secretariat_spaces
from bot.db.driver import fetch
from bot.db.models import Person, table
from bot.db.sql import one_of, per_dialect
from bot.i18n import t

P = table(Person)
# Built once per database kind: runs every time the drainer records deliveries.
_REACHED = per_dialect(lambda dialect: update(P).where(one_of(P.c.id, "ids", dialect), P.c.unreachable_at.is_not(None))
                       .values(unreachable_at=None))


async def record_reachability(services: Services, conn: AsyncConnection, delivered: list[Any],
                              unreachable: list[Any]) -> None:
    """After a drainer round: clear `unreachable_at` of people reached again; report the newly unreachable.

    Each person is reported once per unreachable spell, however many rows fail.
    """
    reached = sorted({r.person_id for r in delivered if r.person_id is not None})
    if reached:
        await fetch(conn, _REACHED(conn), {"ids": reached})
    if not unreachable:
        return
    effects = Effects()
    ctx = Context.system(services, conn, effects, services.clock.now())
    lang = services.config.service.default_language
    for row in unreachable:
        if row.person_id is None:
            continue
        marked = await conn.execute(update(P).where(P.c.id == row.person_id, P.c.unreachable_at.is_(None))
                                    .values(unreachable_at=ctx.now))
        if not marked.rowcount:
            continue
        name = (await conn.execute(select(P.c.display_name).where(P.c.id == row.person_id))).scalar()
        ctx.audit("person.unreachable", channel=row.channel, person=row.person_id)
        for space in secretariat_spaces(services.config):
            ctx.send(space.channel, space.chat, t("delivery.unreachable", lang, name=name, channel=row.channel,
                                                  id=row.person_id))
    await effects.write(conn)
