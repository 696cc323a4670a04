"""Questions and tickets with known counts for the needs report (tests/test_needs.py and its browser test).

| # | who (country, sector, institution type) | day | lang | decision (feedback) | queue | ticket |
|---|---|---|---|---|---|---|
| 1 | A (Kenya, energy, government) | 03-03 | en | escalate | ENERGY | t1, escalated |
| 2 | B (Peru, energy, ngo) | 03-10 | es | escalate | ENERGY | t2 |
| 3 | C (Kenya, transport, academia) | 04-02 | en | answer (helped) | MRV | — |
| 4 | C | 04-05 | en | suggest (escalated) | ENERGY | t3 |
| 5 | D (no profile) | 04-06 | fr | escalate: the FAQ answers it by now | MRV | — |
| 6 | D | 04-07 | en | answer | MRV | — |
| — | D, straight to an expert (/new) | 04-08 | fr | — | TRANSPORT | t4, escalated |
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from bot.db.models import Message, Person, SlaEvent, Ticket, TriageDecision, table
from tests.desk import Desk

P, M, TD, T, E = table(Person), table(Message), table(TriageDecision), table(Ticket), table(SlaEvent)
PEOPLE = {"A": ("Kenya", "Africa", "energy", "government"), "B": ("Peru", "Latin America", "energy", "ngo"),
          "C": ("Kenya", "Africa", "transport", "academia"), "D": (None, None, None, None)}
QUESTIONS: list[tuple[str, str, str, str, str | None, str, str | None, bool]] = [
    # who, day, lang, decision, feedback, queue, text; ticket opened (and escalated) by the question
    ("A", "03-03", "en", "escalate", None, "ENERGY", "What tariff for solar irrigation pumps on remote farms?", True),
    ("B", "03-10", "es", "escalate", None, "ENERGY", "¿Qué tarifa para bombas solares de riego en fincas remotas?",
     False),
    ("C", "04-02", "en", "answer", "helped", "MRV", "What does a Biennial Transparency Report contain?", False),
    ("C", "04-05", "en", "suggest", "escalated", "ENERGY", "Solar irrigation pump tariffs for remote farms?", False),
    ("D", "04-06", "fr", "escalate", None, "MRV", "Que contient un rapport biennal de transparence ?", False),
    ("D", "04-07", "en", "answer", None, "MRV", "What does a Biennial Transparency Report contain?", False),
]
TICKETS = {0: True, 1: False, 3: False}  # question index -> escalated; plus t4 below


def day(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}T10:00:00+00:00").astimezone(UTC)


async def seed_needs(desk: Desk) -> None:
    """Write the rows of the table above."""
    async with desk.app.engine.begin() as conn:
        ids: dict[str, int] = {}
        for name, (country, region, sector, kind) in PEOPLE.items():
            ids[name] = (await conn.execute(insert(P).values(
                display_name=f"Person {name}", role="practitioner", language="en", timezone="UTC", blocked=False,
                country=country, region=region, sector=sector, job_title=kind, created_at=day("03-01"))
                .returning(P.c.id))).scalar_one()
        for n, (who, when, lang, decision, feedback, queue, text, _) in enumerate(QUESTIONS):
            at = day(when)
            message = (await conn.execute(insert(M).values(
                channel="telegram", external_id=f"seed{n}", direction="in", person_id=ids[who], chat_id=f"dm-{who}",
                kind="text", text=text, internal=False, status="done", created_at=at).returning(M.c.id))).scalar_one()
            ticket = await _ticket(conn, ids[who], queue, lang, text, at, TICKETS[n]) if n in TICKETS else None
            await conn.execute(insert(TD).values(
                message_id=message, person_id=ids[who], ticket_id=ticket, lang=lang, decision=decision,
                top_entry_id="btr-contents" if decision == "answer" else None, top_score=0.9, queue_id=queue,
                candidates=[], thresholds={}, feedback=feedback, created_at=at))
        await _ticket(conn, ids["D"], "TRANSPORT", "fr", "Quel tarif pour les bus électriques ?", day("04-08"), True)


async def _ticket(conn: Any, person: int, queue: str, lang: str, text: str, at: datetime, escalated: bool) -> int:
    ticket = (await conn.execute(insert(T).values(
        queue_id=queue, state="new", priority="normal", person_id=person, language=lang, question=text,
        channel="telegram", chat_id="dm", created_at=at, updated_at=at, breached=False, sla_level=0)
        .returning(T.c.id))).scalar_one()
    if escalated:
        await conn.execute(insert(E).values(ticket_id=ticket, kind="unclaimed", level=2, deadline=at, fired_at=at))
    return int(ticket)
