"""Permission matrix: every role × command is either allowed or refused with a clear, audited message."""

from __future__ import annotations

from sqlalchemy import select

from bot.db.models import Audit, table
from tests.desk import Actor, Desk

REFUSED = "not allowed to use"
# command -> roles that may use it (everyone else is refused before any handler runs)
MATRIX = {
    "/mytickets": {"practitioner"},
    "/new": {"practitioner"},
    "/status 1": {"practitioner"},
    "/profile": {"practitioner"},
    "/queue": {"expert", "secretariat"},
    "/mine": {"expert", "secretariat"},
    "/claim 1": {"expert", "secretariat"},
    "/release 1": {"expert", "secretariat"},
    "/note 1 text": {"expert", "secretariat"},
    "/wait 1": {"expert", "secretariat"},
    "/resolve 1 summary text here": {"expert", "secretariat"},
    "/transfer 1 MRV reason": {"expert", "secretariat"},
    "/assign 1 @lucas": {"expert", "secretariat"},
    "/priority 1 high": {"expert", "secretariat"},
    "/away": {"expert", "secretariat"},
    "/back": {"expert", "secretariat"},
    "/reply 1 hello": {"expert", "secretariat"},
    "/stats": {"secretariat"},
    "/move 1 MRV": {"secretariat"},
    "/experts": {"secretariat"},
    "/help": {"practitioner", "expert", "secretariat"},
    "/language en": {"practitioner", "expert", "secretariat"},
}



async def actors(desk: Desk) -> dict[str, Actor]:
    return {"practitioner": desk.practitioner("pat", lang="en"),
            "expert": await desk.staff("sofia"),  # AFOLU and FINANCE, not ENERGY
            "secretariat": await desk.staff("sam", role="secretariat")}


async def test_role_by_command_matrix(desk: Desk) -> None:
    who = await actors(desk)
    alice = desk.practitioner("alice", lang="en")
    await alice.says("We need advice on solar irrigation pumping tariffs for remote farms")
    for command, allowed in MATRIX.items():
        for role, actor in who.items():
            await actor.says(command)
            refused = any(REFUSED in p.text for p in actor.replies())
            assert refused == (role not in allowed), f"{role} {command}: {actor.replies_text()}"
    async with desk.app.engine.connect() as conn:
        refusals = (await conn.execute(select(table(Audit)).where(table(Audit).c.action == "refused"))).all()
    assert len(refusals) == sum(3 - len(roles) for roles in MATRIX.values())


async def test_experts_of_another_queue_cannot_act_on_a_ticket(desk: Desk) -> None:
    who = await actors(desk)
    alice = desk.practitioner("alice", lang="en")
    await alice.says("We need advice on solar irrigation pumping tariffs for remote farms")
    sofia = who["expert"]
    for command in ("/claim 1", "/note 1 hi", "/resolve 1 a long enough summary", "/wait 1", "/release 1",
                    "/priority 1 high", "/assign 1 @sofia", "/reply 1 hi"):
        await sofia.says(command)  # the same words as for a ticket that does not exist: nothing about ENERGY
        assert sofia.replies_text() == "There is no ticket #1.", (command, sofia.replies_text())
    sam = who["secretariat"]
    await sam.says("/priority 1 high")
    sam.sees("priority high")
