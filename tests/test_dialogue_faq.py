"""Transcripts of a practitioner's first contact: FAQ answers, suggestions, tickets, bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.config import MatcherThresholds, load_config
from bot.db.models import Audit, Message, Ticket, TriageDecision, table
from bot.settings import Settings
from tests.desk import Desk, start_desk


@pytest.fixture
async def cautious_desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    """A desk that only answers when nearly certain, so paraphrases get suggestions."""
    config = load_config()
    config = config.model_copy(update={"matcher": MatcherThresholds(answer=0.999, margin=0.05, suggest=0.45)})
    d = await start_desk(sqlite_settings, config=config)
    yield d
    await d.app.stop()


async def count(desk: Desk, model: type, **where: object) -> int:
    t = table(model)
    query = select(func.count()).select_from(t)
    for column, value in where.items():
        query = query.where(t.c[column] == value)
    async with desk.app.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def test_faq_answer_in_english_with_source_and_feedback_buttons(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("What does a Biennial Transparency Report contain?")
    alice.sees("Source: https://")
    assert alice.buttons("Source:") == ["This helped", "I still need an expert"]
    await alice.presses("This helped")
    alice.sees("Glad it helped")
    assert await count(desk, TriageDecision, feedback="helped") == 1
    assert await count(desk, Ticket) == 0


async def test_faq_answer_in_spanish(desk: Desk) -> None:
    maria = desk.practitioner("maria", lang="es")
    await maria.says("¿Qué implica actualizar una NDC?")
    maria.sees("Fuente:")
    assert maria.buttons("Fuente:") == ["Me sirvió", "Aún necesito un experto"]


async def test_faq_answer_in_french(desk: Desk) -> None:
    louis = desk.practitioner("louis", lang="fr")
    await louis.says("Que contient un rapport biennal de transparence ?")
    louis.sees("Source :")
    assert louis.buttons("Source :") == ["Cela m'a aidé", "J'ai encore besoin d'un expert"]


async def test_language_detected_when_channel_gives_none(desk: Desk) -> None:
    ana = desk.practitioner("ana", lang=None)
    await ana.says("¿Cuál es la diferencia entre el artículo 6.2 y el artículo 6.4 del Acuerdo de París?")
    ana.sees("Fuente:")


async def test_answer_falls_back_to_english_with_a_note_in_the_askers_language(desk: Desk) -> None:
    ana = desk.practitioner("ana", lang="es")
    await ana.says("¿Cómo construir una curva de costos marginales de abatimiento (MACC)?")  # only in English
    answer = ana.sees("Esta respuesta solo está disponible en inglés.", "A MACC ranks mitigation options")
    assert [label for label, _ in answer.buttons] == ["Me sirvió", "Aún necesito un experto"]
    await ana.says("How do we build and interpret a marginal abatement cost curve (MACC)?")
    ana.sees("A MACC ranks mitigation options")  # asked in English: answered in English, with no note
    assert "disponible" not in ana.replies_text() and "only available" not in ana.replies_text()


async def test_false_deflection_opens_a_ticket(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("What does a Biennial Transparency Report contain?")
    await alice.presses("I still need an expert")
    alice.sees("ticket #1", "MRV queue", "2 business day")
    desk.queue("MRV").sees_new_ticket(from_="Alice")
    assert await count(desk, TriageDecision, feedback="false_deflection") == 1
    await alice.presses("I still need an expert")
    alice.sees("already ticket #1")
    assert await count(desk, Ticket) == 1


async def test_suggestions_when_unsure_then_pick_one(cautious_desk: Desk) -> None:
    alice = cautious_desk.practitioner("alice", lang="en")
    await alice.says("How do we update our NDC")
    alice.sees("Is your question one of these?")
    labels = alice.buttons("one of these")
    assert labels[-1] == "None of these — ask an expert"
    assert 2 <= len(labels) <= 4
    assert len(set(labels)) == len(labels)  # never two alike
    assert all(len(label) <= 60 and (label.endswith(("?", "…")) or label == labels[-1]) for label in labels)
    await alice.presses("What does an NDC update involve?")
    alice.sees("Source:")


async def test_none_of_the_suggestions_opens_a_ticket(cautious_desk: Desk) -> None:
    alice = cautious_desk.practitioner("alice", lang="en")
    await alice.says("How do we update our NDC")
    await alice.presses("None of these")
    alice.sees("ticket #1", "STRATEGY")
    cautious_desk.queue("STRATEGY").sees_new_ticket(from_="Alice")


async def test_unanswered_question_reaches_energy_queue(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="es")
    await alice.says("¿Qué tarifa eléctrica recomiendan para el bombeo solar de riego en zonas aisladas?")
    alice.sees("No encontré una respuesta")
    alice.sees("ticket #1", "ENERGY")
    card = desk.queue("ENERGY").sees_new_ticket(from_="Alice")
    assert "bombeo solar" in card.text
    assert [label for label, _ in card.buttons] == ["Claim", "Transfer", "Not for us"]


async def test_unclear_topic_says_what_the_service_covers_and_the_practitioner_picks(desk: Desk) -> None:
    bob = desk.practitioner("bob", lang="en")
    await bob.says("Could someone review the annex we drafted last week before Friday?")
    offer = bob.sees("does not look like one of the topics our experts cover", "• Climate finance")
    assert [label for label, _ in offer.buttons][-2:] == ["Send it to the secretariat", "Drop it"]
    await bob.presses("Climate finance")
    bob.sees("ticket #1", "FINANCE")
    desk.queue("FINANCE").sees_new_ticket(from_="Bob")


async def test_greeting_gets_help_not_a_ticket(desk: Desk) -> None:
    alice = desk.practitioner("alice")
    await alice.says("hello")
    alice.sees("Type your question")
    louis = desk.practitioner("louis", lang="fr")
    await louis.says("Merci !")
    louis.sees("Bonjour")
    assert await count(desk, Ticket) == 0


async def test_duplicate_delivery_has_one_effect(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    first = await alice.says("Please help with our transport fuel economy baseline for trucks", external_id="tg-42")
    again = await alice.says("Please help with our transport fuel economy baseline for trucks", external_id="tg-42")
    assert not first.duplicate and again.duplicate
    alice.sees_nothing()
    assert await count(desk, Message, external_id="tg-42") == 1
    assert await count(desk, TriageDecision) == 1


async def test_empty_and_whitespace_messages_get_a_clear_answer(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    for text in ("", "   \n\t ", "\u200b\u200f\u202e"):
        await alice.says(text)
        alice.sees("looks empty")
    assert await count(desk, Message) == 3


async def test_overlong_message_is_stored_and_answered_with_the_limit(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="fr")
    await alice.says("a" * 4001)
    alice.sees("4\u202f001 caractères", "4\u202f000")  # French groups thousands with a narrow no-break space
    assert await count(desk, Message) == 1
    assert await count(desk, Audit, action="input.too_long") == 1


async def test_odd_unicode_does_not_break_anything(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("\u202eWhat does a Biennial\u200b Transparency Report contain? 🌍🔥 \x07")
    alice.sees("Source:")


async def test_unknown_command_gets_help(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("/frobnicate now")
    alice.sees("I do not know that command", "/help")


async def test_language_command_switches_replies(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("/language fr")
    alice.sees("en français")
    await alice.says("/language xx")
    alice.sees("Choisissez parmi")


async def test_forged_or_tampered_button_is_refused(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("What does a Biennial Transparency Report contain?")
    _, action = alice.sees("Source:").buttons[1]
    verb, message_id, signature = action.split(":")
    await alice.press_action(f"{verb}:{int(message_id) + 1}:{signature}")
    alice.sees("no longer valid")
    await alice.press_action("claim:1:AAAAAAAAAA")
    alice.sees("no longer valid")
    assert await count(desk, Ticket) == 0


async def test_button_from_someone_elses_conversation_does_nothing(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    bob = desk.practitioner("bob", lang="en")
    await alice.says("What does a Biennial Transparency Report contain?")
    _, action = alice.sees("Source:").buttons[1]
    await bob.press_action(action)
    assert await count(desk, Ticket) == 0
    assert await count(desk, TriageDecision, feedback="false_deflection") == 0


async def test_help_lists_only_the_practitioners_commands(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("/help")
    post = alice.sees("/mytickets", "/language")
    assert "/claim" not in post.text
