"""A hostile-input corpus run against every role and command: no crash, no cross-user action, clear answers."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.core.actions import ActionSigner
from bot.db.models import Message, Ticket, table
from tests.desk import Actor, Desk

CORPUS = [
    "x" * 3999,
    "<b><i><u><s><a href='javascript:alert(1)'>" * 50,
    "*" * 500 + "_" * 500 + "`" * 500,
    "\u202e\u2066\u2067\u2068\u2069\u200e\u200f evil bidi",
    "\x00\x01\x02\x1b[31m control \x7f",
    "'; DROP TABLE ticket; --",
    "{{7*7}} ${7*7} {0.__class__} %s %n",
    "<script>alert('x')</script>",
    "🏳️‍🌈" * 300,
    "/claim 1; /resolve 1 hacked",
    "/status 999999999999999999999999",
    "/status -1",
    "/language " + "x" * 1000,
    "/transfer 1 ENERGY " + "y" * 3000,
    "/" + "a" * 200,
    "//note without ticket",
    "/block @" + "z" * 64,
    "\n\n\n\t\t",
    "ｈｅｌｌｏ",  # full-width
    "Ｗhat does a Biennial Transparency Report contain?",
]



async def test_corpus_against_every_role(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("We need advice on solar irrigation pumping tariffs for remote farms")
    mallory = desk.practitioner("mallory", lang="en")
    expert = await desk.staff("sofia")
    sam = await desk.staff("sam", role="secretariat")
    async def run_corpus(actor: Actor) -> None:
        for text in CORPUS:
            outcome = await actor.says(text)
            assert not outcome.failed, (actor.name, text[:40])
            assert actor.replies(), f"{actor.name} got no answer to {text[:40]!r}"
            await desk.advance(timedelta(seconds=4))  # stay under the flood limit

    for actor in (mallory, expert):  # neither may touch an ENERGY ticket
        await run_corpus(actor)
    async with desk.app.engine.connect() as conn:
        ticket = (await conn.execute(select(table(Ticket)))).first()
    assert ticket is not None and ticket.state == "new" and ticket.assignee_id is None  # nobody hijacked it
    assert ticket.queue_id == "ENERGY"
    await run_corpus(sam)  # the secretariat may act on it; it must still never crash
    async with desk.app.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(table(Message)))).scalar_one()
    assert count >= 3 * len(CORPUS)


async def test_forged_callback_data_for_other_users_tickets(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("We need advice on solar irrigation pumping tariffs for remote farms")
    mallory = desk.practitioner("mallory", lang="en")
    forger = ActionSigner(b"not the real key")
    for data in (forger.sign("rate", 1, 5), forger.sign("reopen", 1), "claim:1", "rate:1:5:", ":::", "x" * 64,
                 "rate:1:5:" + "A" * 10):
        await mallory.press_action(data)
        mallory.sees("no longer valid")
    real = alice.sees("ticket #1")
    assert real is not None
    # a genuine button of alice's conversation pressed by mallory changes nothing
    signer = desk.app.services.signer if desk.app.services else None
    assert signer is not None
    await mallory.press_action(signer.sign("rate", 1, 1))
    await mallory.press_action(signer.sign("reopen", 1))
    async with desk.app.engine.connect() as conn:
        assert (await conn.execute(select(table(Ticket).c.rating))).scalar() is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
async def test_router_survives_any_text(desk: Desk, text: str) -> None:
    actor = desk.practitioner("fuzz", lang="en")
    outcome = await actor.says(text)
    await desk.advance(timedelta(seconds=4))
    assert not outcome.failed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.text(max_size=80))
async def test_button_parser_survives_any_data(desk: Desk, data: str) -> None:
    actor = desk.practitioner("fuzz", lang="en")
    outcome = await actor.press_action(data)
    await desk.advance(timedelta(seconds=4))
    assert not outcome.failed
