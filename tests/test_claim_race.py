"""Twenty experts press Claim at the same moment on PostgreSQL: one winner, nineteen polite refusals."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, insert, select

from bot.db.models import Audit, QueueMember, Ticket, table
from bot.settings import Settings
from tests.desk import add_person, start_desk


async def test_twenty_concurrent_claims_have_exactly_one_winner(pg_settings: Settings) -> None:
    settings = pg_settings.model_copy(update={"pipeline_workers": 20})
    desk = await start_desk(settings)
    try:
        experts = []
        for n in range(20):
            pid = await add_person(desk.app, f"expert{n}", "expert", "telegram")
            async with desk.app.engine.begin() as conn:
                await conn.execute(insert(table(QueueMember)).values(queue_id="ENERGY", person_id=pid, is_lead=False))
            experts.append(await desk.staff(f"expert{n}"))
        alice = desk.practitioner("alice", lang="en")
        await alice.says("We need advice on solar irrigation pumping tariffs for remote farms")
        card = desk.queue("ENERGY").sees_new_ticket(from_="Alice")
        _, claim = card.buttons[0]

        await asyncio.gather(*(e.press_action(claim) for e in experts))

        async with desk.app.engine.connect() as conn:
            assignee = (await conn.execute(select(table(Ticket).c.assignee_id))).scalar_one()
            attempts = (await conn.execute(select(func.count()).select_from(table(Audit))
                                           .where(table(Audit).c.action == "ticket.claim"))).scalar_one()
        winners = [e for e in experts if any("is yours" in p.text for p in e.posts)]
        refused = [e for e in experts if any("already claimed by" in p.text for p in e.posts)]
        assert len(winners) == 1 and len(refused) == 19
        assert all(winners[0].name.title() in next(p.text for p in e.posts if "already" in p.text) for e in refused)
        assert assignee is not None
        assert attempts == 20
    finally:
        await desk.app.stop()
