"""Linking a person's Telegram and Slack accounts with a one-time code; linking chats to queues."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select, update

from bot.db.models import Identity, LinkCode, Person, Ticket, table
from tests.channels_support import ENERGY_QUESTION
from tests.desk import Actor, Desk

P, I, T = table(Person), table(Identity), table(Ticket)  # noqa: E741



async def code_for(actor: Actor) -> str:
    await actor.says("/link")
    match = re.search(r"code is ([A-Z0-9]{8})", actor.sees("linking code").text)
    assert match is not None
    return match.group(1)


async def test_code_from_one_side_merges_the_other_into_one_person(desk: Desk) -> None:
    on_telegram = desk.practitioner("alice_tg", channel="telegram", lang="en")
    on_slack = desk.practitioner("alice_slack", channel="slack", lang="en")
    await on_telegram.says(ENERGY_QUESTION)
    on_telegram.sees("ticket #1")
    await on_slack.says("Hello")
    async with desk.app.engine.begin() as conn:
        await conn.execute(update(P).where(P.c.display_name == "Alice_Slack").values(country="Kenya"))
    code = await code_for(on_telegram)

    await on_slack.says(f"/link {code.lower()}")
    on_slack.sees("your accounts are linked")
    await on_slack.says("/mytickets")
    on_slack.sees("#1", "ENERGY")  # the ticket asked on Telegram, seen from Slack
    async with desk.app.engine.connect() as conn:
        people = list(await conn.execute(select(P.c.id, P.c.display_name, P.c.country)
                                         .where(P.c.role == "practitioner")))
        identities = {r.channel: r.person_id for r in await conn.execute(select(I.c.channel, I.c.person_id))}
        codes = (await conn.execute(select(func.count()).select_from(table(LinkCode)))).scalar_one()
    assert [(p.display_name, p.country) for p in people] == [("Alice_Tg", "Kenya")]  # kept, profile completed
    assert identities == {"telegram": people[0].id, "slack": people[0].id} and codes == 0

    await on_slack.says(f"/link {code}")  # a code works once
    on_slack.sees("unknown or has expired")


async def test_codes_expire_are_private_and_cannot_link_to_themselves(desk: Desk) -> None:
    alice = desk.practitioner("alice", channel="telegram")
    other = desk.practitioner("alice_other", channel="slack")
    code = await code_for(alice)
    await alice.says(f"/link {code}")
    alice.sees("already part of that profile")
    code = await code_for(alice)
    await desk.advance(timedelta(minutes=11))
    await other.says(f"/link {code}")
    other.sees("unknown or has expired")
    await other.says("/link NOTACODE")
    other.sees("unknown or has expired")
    group = Actor(desk, "alice", "telegram", "-100123", chat_type="group")
    await group.says("/link")
    group.sees("only in a private chat")
    async with desk.app.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).where(P.c.role == "practitioner"))).scalar_one() == 2


async def test_staff_rights_only_flow_from_the_staff_account(desk: Desk) -> None:
    expert = await desk.staff("omar", channel="telegram")
    omar_on_slack = desk.practitioner("omar_slack", channel="slack")
    await omar_on_slack.says("Hello")
    lure = await code_for(omar_on_slack)  # a practitioner's code, typed by an expert: refused
    await expert.says(f"/link {lure}")
    expert.sees("has staff rights")
    await omar_on_slack.says("/queue")
    omar_on_slack.sees("not allowed")

    code = await code_for(expert)  # the right way round: the staff account issues the code
    await omar_on_slack.says(f"/link {code}")
    omar_on_slack.sees("linked")
    await omar_on_slack.says("/queue")
    omar_on_slack.sees("No unclaimed tickets")  # an expert command, now allowed from Slack too
