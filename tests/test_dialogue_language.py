"""Transcripts of the front door: each message answered in its own language, not-questions, out-of-scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import load_config
from bot.core.knowledge import KnowledgeBase
from bot.db.models import KBDraft, Person, Ticket, TriageDecision, table
from bot.settings import Settings
from kb.files import load_kb_dir
from tests.desk import Desk, start_desk
from tests.test_dialogue_faq import count

KB_DIR = Path(__file__).resolve().parents[1] / "kb" / "content"
BTR_FR = "Que contient un rapport biennal de transparence ?"
BTR_EN = "What does a Biennial Transparency Report contain?"
NDC_ES = "¿Qué implica actualizar una NDC?"



@pytest.fixture
async def any_desk(any_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(any_settings)
    yield d
    await d.app.stop()


async def stored_language(desk: Desk, name: str) -> tuple[str, bool]:
    P = table(Person)
    async with desk.app.engine.connect() as conn:
        row = (await conn.execute(select(P.c.language, P.c.language_chosen).where(P.c.display_name == name))).one()
    return row.language, row.language_chosen


async def test_console_french_then_english_each_in_its_own_language(desk: Desk) -> None:
    camille = desk.practitioner("camille", channel="console")  # the console gives no language
    await camille.says(BTR_FR)
    answer = camille.sees("Les rapports biennaux de transparence", "Source :")
    assert [label for label, _ in answer.buttons] == ["Cela m'a aidé", "J'ai encore besoin d'un expert"]
    await camille.says(BTR_EN)
    camille.sees("BTRs are due every two years", "Source:")
    assert "n'existe" not in camille.replies_text()  # no French "other language" note on an English question
    await camille.says(NDC_ES)
    camille.sees("Fuente:")


async def test_telegram_app_language_does_not_override_a_clearly_written_question(any_desk: Desk) -> None:
    desk = any_desk
    ana = desk.practitioner("ana", lang="en")  # Telegram says English; she writes Spanish
    await ana.says(NDC_ES)
    answer = ana.sees("Fuente:")
    assert [label for label, _ in answer.buttons] == ["Me sirvió", "Aún necesito un experto"]
    await ana.presses("Me sirvió")
    ana.sees("¡Gracias!")  # a button press follows the language of the question it answers
    await ana.says("gracias")
    ana.sees("¡Hola! Escriba su pregunta")
    await ana.says("4")
    ana.sees("Un número solo no es una pregunta")  # short text: her last clearly written language
    assert await stored_language(desk, "Ana") == ("es", False)


async def test_a_language_chosen_with_the_command_wins_until_auto(any_desk: Desk) -> None:
    desk = any_desk
    bob = desk.practitioner("bob", lang="en")
    await bob.says("/language fr")
    bob.sees("Je vous écrirai désormais en français.")
    await bob.says(BTR_EN)
    bob.sees("Les rapports biennaux de transparence", "Source :")  # the French entry of the same topic
    assert await stored_language(desk, "Bob") == ("fr", True)
    await bob.says("/language auto")
    bob.sees("Je répondrai désormais à chaque message dans la langue où il est écrit.")
    await bob.says(BTR_EN)
    bob.sees("BTRs are due every two years", "Source:")


async def test_missing_translation_falls_back_to_english_not_another_translation() -> None:
    kb = KnowledgeBase(load_kb_dir(KB_DIR).entries, load_config())
    # livestock-emissions exists in English and French only: a Spanish reader gets the English one
    assert kb.for_reader("livestock-emissions-fr", "es").id == "livestock-emissions"
    assert kb.for_reader("livestock-emissions", "fr").id == "livestock-emissions-fr"
    assert kb.for_reader("gef-access-fr", "es").id == "gef-access-fr"  # only in French: that, with a note


@pytest.mark.parametrize(("lang", "hint"), [
    ("en", "A number on its own is not a question"),
    ("es", "Un número solo no es una pregunta"),
    ("fr", "Un nombre seul n'est pas une question"),
])
async def test_a_bare_number_is_not_matched_and_gets_a_hint(desk: Desk, lang: str, hint: str) -> None:
    alice = desk.practitioner(f"p{lang}", lang=lang)
    await alice.says("4")
    alice.sees(hint)
    assert "Source" not in alice.replies_text() and "Fuente" not in alice.replies_text()
    assert await count(desk, TriageDecision) == 0 and await count(desk, Ticket) == 0


@pytest.mark.parametrize("text", ["ok", "thanks a lot", "Merci beaucoup !", "¡Gracias!", "👍👍", "hi 🙂", "#12"])
async def test_texts_without_content_words_are_not_matched(desk: Desk, text: str) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says(text)
    assert alice.replies(), "no reply"
    assert await count(desk, TriageDecision) == 0 and await count(desk, Ticket) == 0


async def test_bread_is_out_of_scope_and_can_be_dropped(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("How do I bake bread?")
    offer = alice.sees("does not look like one of the topics our experts cover", "• Energy")
    assert "passing your question to an expert" not in alice.replies_text()
    assert [label for label, _ in offer.buttons][-2:] == ["Send it to the secretariat", "Drop it"]
    await alice.presses("Drop it")
    alice.sees("I have dropped it")
    await alice.presses("Drop it")  # pressed again: nothing more happens
    alice.sees("no longer valid")
    assert await count(desk, Ticket) == 0


async def test_bread_in_spanish_goes_to_the_secretariat_not_to_a_queue(desk: Desk) -> None:
    maria = desk.practitioner("maria", lang="es")
    await maria.says("¿Cómo hago pan?")
    maria.sees("no parece ser uno de los temas que cubren nuestros expertos")
    await maria.presses("Enviarla a la secretaría")
    maria.sees("He pasado su pregunta a la secretaría")
    post = desk.channel("console").posts["secretariat"][-1]
    assert "outside the queues' topics" in post.text and "hago pan" in post.text
    await maria.presses("Enviarla a la secretaría")  # a second press does not send it twice
    assert len([p for p in desk.channel("console").posts["secretariat"] if "hago pan" in p.text]) == 1
    assert await count(desk, Ticket) == 0


async def test_a_ticket_closed_as_out_of_scope_makes_no_faq_draft(desk: Desk) -> None:
    louis = desk.practitioner("louis", lang="fr")
    amina = await desk.staff("amina")
    await louis.says("Comment faire du pain à la maison ?")
    louis.sees("ne semble pas faire partie des thèmes de nos experts")
    await louis.presses("Energy")  # he picks a topic anyway
    louis.sees("ticket n° 1")
    await amina.says("/claim 1")
    await amina.says("/outofscope 1 Nous ne couvrons que les politiques climatiques.")
    amina.sees("closed as out of scope")
    louis.sees("sort du champ de nos experts", "Nous ne couvrons que les politiques climatiques.")
    assert await count(desk, KBDraft) == 0
    await amina.says("/outofscope 1")  # already closed: refused, nothing drafted either
    assert await count(desk, KBDraft) == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("", "Your message looks empty"),
    ("\u200f\u202e", "Your message looks empty"),  # only bidi controls
    ("a", "Type your question"),
    ("🙂🙂🙂", "Type your question"),
    ("x" * 5000, "5,000 characters"),
    ("كيف أعد تقرير الشفافية؟", ""),  # right to left: no language of ours to read; answered, no crash
    ("שלום, איך מגישים דוח?", ""),
    ("Hola, what should our biennial transparency report contain?", "Source:"),  # mostly English
])
async def test_bad_input_gets_a_sensible_reply(desk: Desk, text: str, expected: str) -> None:
    alice = desk.practitioner("alice", lang="en")
    outcome = await alice.says(text)
    assert not outcome.failed and alice.replies(), "no reply"
    assert expected in alice.replies_text()
    assert "went wrong" not in alice.replies_text()


async def test_right_to_left_text_is_answered_in_the_stored_language_never_confidently(desk: Desk) -> None:
    maria = desk.practitioner("maria", lang="es")
    await maria.says("كيف أعد تقرير الشفافية؟")
    assert "Fuente:" not in maria.replies_text()  # nothing confident to say about it
    assert any(word in maria.replies_text() for word in ("pregunta", "tema", "ticket"))


@pytest.mark.parametrize(("lang", "text", "expected"), [
    ("es", "", "Su mensaje parece vacío"),
    ("fr", "", "Votre message semble vide"),
    ("es", "y" * 5000, "5.000 caracteres"),
    ("fr", "z" * 5000, "5\u202f000 caractères"),
    ("fr", "🙂", "Bonjour ! Écrivez votre question"),
])
async def test_bad_input_is_answered_in_the_askers_language(desk: Desk, lang: str, text: str, expected: str) -> None:
    someone = desk.practitioner(f"p{lang}", lang=lang)
    await someone.says(text)
    someone.sees(expected)
