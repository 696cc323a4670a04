"""Transcripts of follow-ups: a reply reopens a resolved ticket within `reopen_days`, after it a linked ticket
opens; `/new` goes straight to an expert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import Ticket, TriageDecision, table
from bot.settings import Settings
from tests.desk import Actor, Desk, config_with_service, start_desk

T = table(Ticket)
SOLAR = "We need advice on solar irrigation pumping tariffs for remote farms"
SOLAR_ES = "¿Qué tarifa eléctrica recomiendan para el bombeo solar de riego en zonas aisladas?"


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(sqlite_settings, config=config_with_service(reopen_days=5))
    yield d
    await d.app.stop()


async def ticket(desk: Desk, ticket_id: int = 1) -> dict[str, object]:
    async with desk.app.engine.connect() as conn:
        return dict((await conn.execute(select(T).where(T.c.id == ticket_id))).one()._mapping)


async def resolved(desk: Desk, name: str, lang: str, question: str, summary: str) -> tuple[Actor, Actor]:
    """`name` asks `question`; Amina claims ticket #1 and resolves it with `summary`."""
    practitioner = desk.practitioner(name, lang=lang)
    amina = await desk.staff("amina")
    await practitioner.says(question)
    await amina.says("/claim 1")
    await amina.says(f"/resolve 1 {summary}")
    return practitioner, amina


async def test_a_reply_within_the_window_reopens_the_resolved_ticket_in_english(desk: Desk) -> None:
    alice, amina = await resolved(desk, "alice", "en", SOLAR, "Use a block tariff with prepaid metering.")
    alice.sees("is resolved", "Reply within 5 days to reopen it")

    await desk.advance(timedelta(days=1))
    await alice.says("Thanks, but what about farms with no mobile coverage for prepaid meters?")
    alice.sees("Ticket #1 is open again")
    assert "FAQ" not in alice.replies_text() and "topic" not in alice.replies_text()
    amina.sees("reopened ticket #1")
    amina.sees("Alice wrote", "no mobile coverage")
    row = await ticket(desk)
    assert (row["state"], row["resolved_at"]) == ("open", None) and row["assignee_id"] is not None
    assert row["next_response_due"] is not None and row["next_response_due"] > desk.clock.now()


async def test_a_thank_you_after_the_resolve_does_not_reopen_the_ticket(desk: Desk) -> None:
    alba, amina = await resolved(desk, "alba", "es", SOLAR_ES, "Tarifa de bloque con medición prepago.")
    told = len(amina.posts)
    await alba.says("Muchas gracias, muy útil")
    alba.sees("sigue resuelto", "5 días")
    assert len(amina.posts) == told  # the expert is not called back for a thank-you
    assert (await ticket(desk))["state"] == "resolved"
    await alba.says("Gracias, ¿y si no hay cobertura móvil para los medidores prepago?")  # a question: reopens
    alba.sees("abierto de nuevo")
    assert (await ticket(desk))["state"] == "open"


async def test_after_the_window_a_reply_opens_a_linked_ticket_in_spanish(desk: Desk) -> None:
    alba, _ = await resolved(desk, "alba", "es", SOLAR_ES, "Tarifa de bloque con medición prepago.")
    resolve_post = alba.sees("está resuelta", "Responda en 5 días para reabrirla")

    await desk.advance(timedelta(days=6))
    await alba.says("¿Y para las fincas sin cobertura móvil?", replying_to=resolve_post)
    alba.sees("ticket #2", "ENERGY")
    desk.queue("ENERGY").sees("Ticket #2 follows up on ticket #1")
    assert (await ticket(desk, 1))["state"] == "resolved"
    second = await ticket(desk, 2)
    assert (second["linked_ticket_id"], second["question"]) == (1, "¿Y para las fincas sin cobertura móvil?")


async def test_after_the_window_a_new_message_is_a_new_question(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    amina = await desk.staff("amina")
    await alice.says(SOLAR)
    await amina.says("/resolve 1 Use a block tariff with prepaid metering.")
    await desk.advance(timedelta(days=6))
    await alice.says("What is a marginal abatement cost curve?")
    assert "open again" not in alice.replies_text()
    assert (await ticket(desk, 1))["state"] == "resolved"


async def test_several_recently_resolved_tickets_ask_which_one(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="fr")
    amina = await desk.staff("amina")
    for question in ("Quel tarif pour le pompage solaire dans les fermes isolées ?",
                     "Comment concevoir une enchère pour l'éolien en mer ?"):
        await alice.says("/new")
        await alice.says(question)
        alice.sees("ENERGY")
    await amina.says("/resolve 1 Use a block tariff with prepaid metering.")
    await amina.says("/resolve 2 Start with a one-sided auction and a ceiling price.")
    await alice.says("J'ai encore une question sur les compteurs prépayés.")
    alice.sees("récemment", "rouvre")
    assert alice.buttons("récemment")[:2] == ["#2 Comment concevoir une enchère pour…",
                                              "#1 Quel tarif pour le pompage solaire dans…"]
    await alice.presses("#1")
    alice.sees("Le ticket n° 1 est de nouveau ouvert")
    assert [(await ticket(desk, n))["state"] for n in (1, 2)] == ["new", "resolved"]
    desk.queue("ENERGY").sees("compteurs prépayés")


async def test_new_opens_a_ticket_in_the_routed_queue_without_faq(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("/new")
    alice.sees("straight to an expert")
    await alice.says("How do I prepare a GCF concept note?")  # an FAQ entry answers this, but /new skips it
    alice.sees("ticket #1", "FINANCE")
    assert "FAQ" not in alice.replies_text()
    async with desk.app.engine.connect() as conn:
        assert (await conn.execute(select(table(TriageDecision)))).first() is None

    await alice.says("/new")
    await alice.says("Hello, I have a question about something else entirely")
    alice.sees("Which topic is closest")
    await alice.presses("forestry")
    alice.sees("ticket #2", "AFOLU")

