"""Transcripts of the advisory service: a question reaches a queue, an expert claims and answers it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from bot.db.models import Audit, Message, Person, Ticket, TriageDecision, table
from bot.settings import Settings
from tests.desk import Desk, start_desk

QUESTION_ES = "¿Qué tarifa eléctrica recomiendan para el bombeo solar de riego en zonas aisladas?"



async def ticket_row(desk: Desk, ticket_id: int = 1) -> dict[str, object]:
    async with desk.app.engine.connect() as conn:
        row = (await conn.execute(select(table(Ticket)).where(table(Ticket).c.id == ticket_id))).one()
    return dict(row._mapping)


async def person_id(desk: Desk, handle: str) -> int:
    p = table(Person)
    async with desk.app.engine.connect() as conn:
        return int((await conn.execute(select(p.c.id).where(p.c.handle == handle))).scalar_one())


async def audits(desk: Desk, action: str) -> list[dict[str, object]]:
    a = table(Audit)
    async with desk.app.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(a).where(a.c.action == action))]


async def test_full_life_of_a_question_in_spanish(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="es")
    amina = await desk.staff("amina")
    lucas = await desk.staff("lucas")
    await alice.says(QUESTION_ES)
    alice.sees("ticket #1", "ENERGY", "2 días hábiles")
    card = desk.queue("ENERGY").sees_new_ticket(from_="Alice")

    await asyncio.gather(amina.presses_on(card, "Claim"), lucas.presses_on(card, "Claim"))
    holder = (await ticket_row(desk))["assignee_id"]
    winner, loser = (amina, lucas) if holder == await person_id(desk, "amina") else (lucas, amina)
    winner.sees("Ticket #1 is yours")
    loser.sees("already claimed by", winner.name.title())
    assert desk.queue("ENERGY").posts[0].text.endswith(f"claimed by {winner.name.title()}")
    alice.sees("está revisando su pregunta")

    await winner.says("¿Qué potencia tienen las bombas y cuántas horas de riego al día?")
    alice.sees(f"Ticket #1 — {winner.name.title()}", "cuántas horas")
    row = await ticket_row(desk)
    assert row["first_response_at"] is not None and row["state"] == "open"

    await alice.says("Bombas de 5 kW, seis horas al día.")
    winner.sees("Alice wrote", "5 kW")

    await winner.says("/resolve 1 Tarifa de bloque para bombeo con medición prepago; ver guía ESMAP.")
    winner.sees("resolved")
    resolved = alice.sees("está resuelta", "Tarifa de bloque")
    assert [label for label, _ in resolved.buttons][:5] == ["★", "★★", "★★★", "★★★★", "★★★★★"]
    await alice.presses("★★★★★")
    alice.sees("5/5")
    await alice.says("Muy útil, gracias por la rapidez")
    alice.sees("Gracias por su comentario")
    row = await ticket_row(desk)
    assert (row["state"], row["rating"], row["rating_comment"]) == ("resolved", 5, "Muy útil, gracias por la rapidez")
    assert row["summary"].startswith("Tarifa de bloque")
    assert "resolved" in desk.queue("ENERGY").posts[0].text.lower()
    assert len(await audits(desk, "ticket.claim")) == 2  # one won, one refused, both audited


async def test_expert_asks_for_detail_and_the_clock_waits_in_english(desk: Desk) -> None:
    bob = desk.practitioner("bob", lang="en")
    lucas = await desk.staff("lucas")
    await bob.says("Which bus rapid transit fare contract suits informal minibus owners?")
    bob.sees("TRANSPORT")
    await lucas.says("/claim 1")
    lucas.sees("#1")
    await lucas.says("/wait 1")
    bob.sees("waiting for your reply on ticket #1")
    assert (await ticket_row(desk))["state"] == "waiting"
    await bob.says("The city has 400,000 people and two main corridors.")
    bob.sees("Added to ticket #1")
    lucas.sees("Bob wrote")
    assert (await ticket_row(desk))["state"] == "open"


async def test_release_transfer_and_notes(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    amina = await desk.staff("amina")
    sofia = await desk.staff("sofia")
    await alice.says("We need advice on solar irrigation pumping tariffs for remote farms")
    _, old_claim = desk.queue("ENERGY").posts[0].buttons[0]
    await amina.says("/claim 1")
    await amina.says("/note 1 Looks like an AFOLU question really")
    amina.sees("Note saved")
    desk.queue("ENERGY").sees("Internal note on #1 by Amina")
    assert all("Internal note" not in p.text for p in alice.posts)
    await amina.says("/release 1 out of office")
    amina.sees("back in the ENERGY queue")
    assert (await ticket_row(desk))["assignee_id"] is None
    await amina.says("/transfer 1 AFOLU irrigation is their topic")
    amina.sees("transferred to AFOLU")
    desk.queue("AFOLU").sees_new_ticket(from_="Alice")
    alice.sees("passed to the AFOLU experts")
    await sofia.presses_on(desk.queue("AFOLU").posts[-1], "Claim")
    assert (await ticket_row(desk))["assignee_id"] is not None
    stale = desk.queue("ENERGY").posts[0]
    assert "moved to AFOLU" in stale.text
    await amina.press_action(old_claim)  # a stale Claim button from before the transfer: no longer her queue's
    amina.sees("There is no ticket #1")
    await sofia.press_action(old_claim)
    sofia.sees("already yours")


async def test_practitioner_with_two_open_tickets_is_asked_which_one(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("We need advice on solar irrigation pumping tariffs for remote farms")
    await alice.says("/new")
    await alice.says("HFC leaks from supermarket refrigeration: how to report them in the inventory "
                     "when data are missing?")
    alice.sees("ticket #2")
    await alice.says("Here is more detail: 300 farms.")
    alice.sees("Which of your open questions")
    await alice.presses("#1")
    alice.sees("Added to ticket #1")
    desk.queue("ENERGY").sees("300 farms")
    async with desk.app.engine.connect() as conn:
        linked = (await conn.execute(select(table(Message).c.ticket_id)
                                     .where(table(Message).c.text == "Here is more detail: 300 farms."))).scalar()
    assert linked == 1


async def test_reopen_within_the_window_and_a_linked_ticket_after_it(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    amina = await desk.staff("amina")
    await alice.says("We need advice on solar irrigation pumping tariffs for remote farms")
    await amina.says("/claim 1")
    await amina.says("/resolve 1 Use a block tariff with prepaid metering.")
    await alice.presses("Reopen")
    alice.sees("open again")
    amina.sees("reopened ticket #1")
    assert (await ticket_row(desk))["state"] == "open"
    await amina.says("/resolve 1 Use a block tariff with prepaid metering, see ESMAP.")
    await desk.advance(timedelta(days=15))
    await alice.presses("Reopen")
    alice.sees("ticket #2")
    assert (await ticket_row(desk, 2))["linked_ticket_id"] == 1


async def test_auto_assignment_round_robin_skips_away_experts(sqlite_settings: Settings) -> None:
    from bot.config import load_config

    config = load_config()
    queues = [q.model_copy(update={"auto_assign": True}) if q.id == "ENERGY" else q for q in config.queues]
    desk = await start_desk(sqlite_settings, config=config.model_copy(update={"queues": queues}))
    try:
        amina = await desk.staff("amina")
        lucas = await desk.staff("lucas")
        await amina.says("/away")
        amina.sees("away")
        alice = desk.practitioner("alice", lang="en")
        for n in range(2):
            await alice.says("/new")
            await alice.says(f"Solar irrigation pumping tariff design for remote farms, case {n}")
        lucas_id, amina_id = await person_id(desk, "lucas"), await person_id(desk, "amina")
        assert [(await ticket_row(desk, i))["assignee_id"] for i in (1, 2)] == [lucas_id, lucas_id]
        lucas.sees("#2 is now yours")
        await amina.says("/back")
        for n in (3, 4):
            await alice.says("/new")
            await alice.says(f"Solar irrigation pumping tariff design for remote farms, case {n}")
        assert {(await ticket_row(desk, i))["assignee_id"] for i in (3, 4)} == {amina_id, lucas_id}
    finally:
        await desk.app.stop()


async def test_lead_sets_priority_and_assigns_secretariat_moves(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="fr")
    amina = await desk.staff("amina")  # lead of ENERGY
    lucas = await desk.staff("lucas")  # expert of ENERGY, not lead
    sam = await desk.staff("sam", role="secretariat")
    await alice.says("Comment fixer le tarif solaire pour le pompage d'irrigation dans les fermes isolées ?")
    await lucas.says("/priority 1 urgent")
    lucas.sees("Only the queue's leads")
    await amina.says("/priority 1 urgent")
    amina.sees("priority urgent")
    await amina.says("/assign 1 @lucas")
    lucas.sees("#1 is now yours")
    alice.sees("Lucas examine votre question")
    await sam.says("/move 1 FINANCE")
    desk.queue("FINANCE").sees_new_ticket(from_="Alice")
    await sam.says("/stats")
    sam.sees("FINANCE: 1")
    await sam.says("/experts")
    sam.sees("Amina (@amina): MRV, ENERGY*")


async def test_not_for_us_asks_the_secretariat_to_reroute(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    amina = await desk.staff("amina")
    sam = await desk.staff("sam", role="secretariat")
    await alice.says("We need advice on solar irrigation pumping tariffs for remote farms")
    await amina.presses_on(desk.queue("ENERGY").posts[0], "Not for us")
    amina.sees("secretariat will move ticket #1")
    notice = desk.channel("console").posts["secretariat"][-1]
    assert "declined by ENERGY" in notice.text
    await sam.presses_on(notice, "AFOLU")
    desk.queue("AFOLU").sees_new_ticket(from_="Alice")


async def test_bad_input_on_tickets(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    amina = await desk.staff("amina")
    sofia = await desk.staff("sofia")  # AFOLU and FINANCE, not ENERGY
    await alice.says("We need advice on solar irrigation pumping tariffs for remote farms")
    await amina.says("/claim 99")
    amina.sees("There is no ticket #99")
    await amina.says("/claim")
    amina.sees("Usage: /claim N")
    await sofia.says("/claim 1")
    sofia.sees("There is no ticket #1")  # another queue's ticket: as if there were none
    await sofia.says("/resolve 1 Some summary that is long enough")
    sofia.sees("There is no ticket #1")
    await sofia.says("Here is my answer to the farmer")
    sofia.sees("Which ticket")
    await amina.says("/claim 1")
    await amina.says("/claim 1")
    amina.sees("already yours")
    await amina.says("/transfer 1 COOKING nobody knows")
    amina.sees("I do not know COOKING")
    await amina.says("/resolve 1")
    amina.sees("short summary")
    await alice.says("/claim 1")
    alice.sees("not allowed to use /claim")
    card = desk.queue("ENERGY").posts[0]
    assert not card.buttons  # the card lost its buttons when claimed
    await amina.says("/resolve 1 Use a block tariff with prepaid metering.")
    await sofia.says("/claim 1")
    sofia.sees("There is no ticket #1")
    await amina.says("/claim 1")
    amina.sees("cannot be claimed")
    resolved = alice.sees("is resolved")
    stars = resolved.buttons[0][1]
    verb, ticket_id, _, sig = stars.split(":")
    await alice.press_action(f"{verb}:{ticket_id}:9:{sig}")
    alice.sees("no longer valid")
    refusals = [a for a in await audits(desk, "refused") if not a["allowed"]]
    assert refusals  # refused commands are audited


async def test_file_over_the_size_limit_is_refused_clearly(desk: Desk) -> None:
    from bot.core.messages import Attachment, IncomingMessage

    msg = IncomingMessage(channel="telegram", external_id="f1", user_id="alice", chat_id="dm-alice",
                          text="see attached", attachments=(Attachment("document", "FILE1", "plan.pdf", 30 * 2**20),))
    await desk.app.submit(msg)
    await desk.settle()
    assert "larger than 20 MB" in desk.channel("telegram").posts["dm-alice"][-1].text


async def test_file_of_a_type_not_allowed_is_refused_clearly(desk: Desk) -> None:
    from bot.core.messages import Attachment, IncomingMessage

    program = Attachment("document", "FILE2", "setup.exe", 2048, "application/x-msdownload")
    msg = IncomingMessage(channel="telegram", external_id="f2", user_id="alice", chat_id="dm-alice",
                          text="see attached", attachments=(program,))
    await desk.app.submit(msg)
    await desk.settle()
    assert "type I cannot pass on" in desk.channel("telegram").posts["dm-alice"][-1].text


async def test_the_triage_decision_of_an_escalated_question_points_at_its_ticket(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="es")
    await alice.says(QUESTION_ES)
    alice.sees("ticket #1")
    td = table(TriageDecision)
    async with desk.app.engine.connect() as conn:
        decisions = [tuple(r) for r in await conn.execute(select(td.c.decision, td.c.ticket_id))]
    assert decisions == [("escalate", 1)]


async def test_files_sent_with_the_question_reach_the_queue_with_its_ticket(desk: Desk) -> None:
    from bot.core.messages import Attachment, IncomingMessage

    plan = Attachment("document", "FILE3", "plan.pdf", 2048, "application/pdf", "telegram")
    await desk.app.submit(IncomingMessage(channel="telegram", external_id="f3", user_id="alice", chat_id="dm-alice",
                                          text=QUESTION_ES, language="es", attachments=(plan,)))
    await desk.settle()
    card, files = desk.queue("ENERGY").posts[-2:]
    assert card.text.startswith("Ticket #1")
    assert files.text == "Files sent with ticket #1's question:" and files.files == ("plan.pdf",)


async def test_a_practitioners_reply_reaches_the_assignee_in_two_statements(desk: Desk) -> None:
    """The hot relay path: the practitioner's open ticket (with where its assignee is reached) and its update."""
    alice = desk.practitioner("alice", lang="es")
    amina = await desk.staff("amina")
    await alice.says(QUESTION_ES)
    await amina.says("/claim 1")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(sql)

    event.listen(desk.app.engine.sync_engine, "before_cursor_execute", count)
    try:
        await alice.says("Son 40 bombas de 5 kW en tres distritos.")
    finally:
        event.remove(desk.app.engine.sync_engine, "before_cursor_execute", count)
    amina.sees("Son 40 bombas de 5 kW")
    lookups = [s for s in statements if s.startswith("SELECT identity.channel, identity.chat_id, person.language")]
    assert not lookups  # where the expert is reached came with the ticket
    assert len([s for s in statements if s.startswith(("SELECT ticket", "UPDATE ticket"))]) == 2
