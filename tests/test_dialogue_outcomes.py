"""Transcripts of "did you apply it?": asked once, on time by the fake clock, after a resolve or a "This helped";
counted in the report; an answer for a ticket reopened since; a practitioner who blocked the bot."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.core.messages import OutgoingMessage
from bot.core.outbox import PermanentFailure
from bot.core.outcome_report import outcome_csv, outcome_report
from bot.core.outcomes import ask_due
from bot.db.engine import create_engine
from bot.db.models import KnowledgeOutcome, Person, table
from bot.scheduler import sla_round
from bot.settings import Settings
from tests.cli_support import helpdesk, use_database
from tests.desk import Actor, Desk, config_with_service, start_desk
from tests.webdesk import browser, http_app, login_token

KO, P = table(KnowledgeOutcome), table(Person)
SOLAR = "We need advice on solar irrigation pumping tariffs for remote farms"
DAY = timedelta(days=1)


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(sqlite_settings, config=config_with_service(reopen_days=60))
    yield d
    await d.app.stop()


async def tick(desk: Desk) -> int:
    """The scheduler's round at the clock's time; deliver what it wrote. How many messages it wrote."""
    result = await sla_round(desk.app.engine, desk.app.services, desk.clock.now())
    await desk.settle()
    return result.messages


async def resolved(desk: Desk, practitioner: Actor, question: str = SOLAR) -> Actor:
    amina = await desk.staff("amina")
    await practitioner.says(question)
    await amina.says("/claim 1")
    await amina.says("/resolve 1 Use a block tariff with prepaid metering.")
    return amina


async def outcomes(desk: Desk) -> list[tuple[str, int, str | None, str | None]]:
    async with desk.app.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(  # type: ignore[misc]
            select(KO.c.source, KO.c.source_id, KO.c.answer, KO.c.comment).order_by(KO.c.id))]


async def test_asked_once_thirty_days_after_the_resolve_and_counted_in_the_report(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await resolved(desk, alice)

    await desk.advance(29 * DAY)  # a Tuesday, 09:00: not yet
    alice.seen = len(alice.posts)
    assert await tick(desk) == 0
    alice.sees_nothing()

    await desk.advance(DAY + timedelta(hours=1))
    alice.seen = len(alice.posts)
    assert await tick(desk) == 1
    alice.sees("30 days ago your question #1 was answered", "solar irrigation", "Did you use the advice")
    assert alice.buttons("Did you use") == ["Yes, applied", "Partly", "Not yet", "No"]
    assert await tick(desk) == 0  # asked once
    await desk.advance(DAY)
    assert await tick(desk) == 0  # and not again the next day

    await alice.presses("Partly")
    alice.sees("“Partly” is noted", "add a comment")
    await alice.says("We used the block tariff; prepaid meters are still being procured.")
    alice.sees("comment is saved")
    await alice.presses("Yes, applied")  # the first answer counts
    alice.sees("You answered this already (“Partly”)")
    assert await outcomes(desk) == [("ticket", 1, "partly", "We used the block tariff; prepaid meters are still "
                                                            "being procured.")]

    async with desk.app.engine.connect() as conn:
        report = await outcome_report(conn)
    assert (report.total.asked, report.total.answered, report.total.partly, report.total.applied_pct) == (1, 1, 1,
                                                                                                          100.0)
    assert [(r.key, r.asked, r.partly) for r in report.by_queue] == [("ENERGY", 1, 1)]
    assert [r.key for r in report.by_month] == ["2026-04"]
    assert "queue,ENERGY,1,1,0,1,0,0,100.0" in outcome_csv(report)


async def test_a_faq_answer_that_helped_is_followed_up_in_spanish(desk: Desk) -> None:
    alba = desk.practitioner("alba", lang="es")
    await alba.says("¿Qué contiene un Informe Bienal de Transparencia?")
    await alba.presses("Me sirvió")
    await desk.advance(30 * DAY + timedelta(hours=1))
    assert await tick(desk) == 1
    alba.sees("Hace 30 días le sirvió la respuesta de la FAQ", "¿La utilizó en su trabajo?")
    await alba.presses("Todavía no")
    alba.sees("hemos anotado «Todavía no»")
    await alba.presses("Omitir")
    alba.sees("¡Gracias!")
    [(source, _, answer, comment)] = await outcomes(desk)
    assert (source, answer, comment) == ("faq", "not_yet", None)
    async with desk.app.engine.connect() as conn:
        report = await outcome_report(conn)
    assert [(r.asked, r.not_yet) for r in report.by_entry] == [(1, 1)]


async def test_an_answer_for_a_ticket_reopened_since_is_not_counted_and_it_is_asked_again(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="fr")
    amina = await resolved(desk, alice, "Quel tarif pour le pompage solaire dans les fermes isolées ?")
    await desk.advance(30 * DAY + timedelta(hours=1))
    assert await tick(desk) == 1
    alice.sees("Il y a 30 jours, votre question n° 1")
    question = alice.replies()[-1]
    await alice.says("Et pour les fermes sans couverture mobile, quels compteurs ?")
    alice.sees("de nouveau ouvert")
    await alice.presses_on(question, "Oui, appliqué")
    alice.sees("rouverte après notre demande")
    assert await outcomes(desk) == [("ticket", 1, None, None)]

    await amina.says("/resolve 1 Use offline token meters.")
    await desk.advance(30 * DAY + timedelta(hours=1))
    assert await tick(desk) == 1  # a new resolve: asked again, once
    await alice.presses("Oui, appliqué")
    alice.sees("« Oui, appliqué » est noté")
    assert [a for _, _, a, _ in await outcomes(desk)] == [None, "applied"]


async def test_a_practitioner_who_blocked_the_bot_is_asked_when_back(desk: Desk,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    bea = desk.practitioner("bea", lang="en")
    telegram = desk.channel("telegram")
    deliver = telegram.send

    async def blocked(message: OutgoingMessage) -> str | None:
        if message.chat_id == "dm-bea":
            raise PermanentFailure("403 bot was blocked by the user", unreachable=True)
        return await deliver(message)

    await bea.says(SOLAR)
    monkeypatch.setattr(telegram, "send", blocked)
    amina = await desk.staff("amina")
    await amina.says("/claim 1")
    await amina.says("/resolve 1 Use a block tariff with prepaid metering.")  # cannot be delivered: she blocked us
    async with desk.app.engine.connect() as conn:
        assert (await conn.execute(select(P.c.unreachable_at).where(P.c.handle.is_(None)))).scalar() is not None

    await desk.advance(30 * DAY + timedelta(hours=1))
    assert await tick(desk) == 0  # nothing is sent to someone who blocked the bot
    assert await outcomes(desk) == []

    monkeypatch.setattr(telegram, "send", deliver)
    await desk.advance(2 * DAY)
    await bea.says("/help")  # she is back: the reply reaches her
    assert await tick(desk) == 1
    bea.sees("Did you use the advice")
    await desk.advance(15 * DAY)  # and past the window nobody is asked any more
    assert await tick(desk) == 0


async def test_mydata_lists_the_outcomes_and_forgetme_removes_them(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await resolved(desk, alice)
    await desk.advance(30 * DAY + timedelta(hours=1))
    await tick(desk)
    [(_, no)] = [b for b in alice.posts[-1].buttons if b[0] == "No"]  # exactly "No" (not "Not yet")
    await alice.press_action(no)
    await alice.says("Our ministry chose a flat tariff instead.")
    await alice.says("/mydata")
    exported = json.loads(alice.replies()[-1].text)["outcomes"]
    assert [(o["source"], o["answer"], o["comment"]) for o in exported] == [
        ("ticket", "no", "Our ministry chose a flat tariff instead.")]
    await alice.says("/forgetme")
    await alice.presses("Yes, erase")
    assert await outcomes(desk) == []


async def test_report_outcomes_and_kb_stats_on_the_command_line(desk: Desk, sqlite_settings: Settings,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    alba = desk.practitioner("alba", lang="en")
    await alba.says("What does a Biennial Transparency Report contain?")
    await alba.presses("This helped")
    await desk.advance(30 * DAY + timedelta(hours=1))
    await tick(desk)
    await alba.presses("Yes, applied")
    use_database(monkeypatch, sqlite_settings)
    async with desk.app.engine.connect() as conn:
        report = await outcome_report(conn)
    [entry] = report.by_entry
    assert await helpdesk("report", "outcomes", "--format", "csv") == outcome_csv(report)
    as_json = json.loads(await helpdesk("report", "outcomes", "--format", "json"))
    assert as_json["by_entry"] == [{"key": entry.key, "asked": 1, "answered": 1, "applied": 1, "partly": 0,
                                    "not_yet": 0, "no": 0, "applied_pct": 100.0}]
    table = await helpdesk("report", "outcomes")
    assert "Knowledge applied" in table and entry.key in table and "100.0%" in table
    stats = {s["entry_id"]: s for s in json.loads(await helpdesk("kb", "stats", "--json"))}
    assert stats[entry.key]["outcomes"]["applied"] == 1 and stats[entry.key]["helped"] == 1
    assert "2026-03-01" in await helpdesk("report", "outcomes", "--since", "2026-03-01")


async def test_two_replicas_on_postgresql_ask_once(pg_settings: Settings) -> None:
    desk = await start_desk(pg_settings)
    other = create_engine(pg_settings.database_url, schema=pg_settings.database_schema)
    try:
        alice = desk.practitioner("alice", lang="en")
        await resolved(desk, alice)
        await desk.advance(30 * DAY + timedelta(hours=1))
        services, now = desk.app.services, desk.clock.now()
        assert services is not None
        written = await asyncio.gather(ask_due(desk.app.engine, services, now), ask_due(other, services, now))
        assert sorted(written) == [0, 1]
        assert await ask_due(other, services, now) == 0  # and after a restart, nothing again
        await desk.settle()
        assert sum("Did you use the advice" in p.text for p in alice.posts) == 1
    finally:
        await other.dispose()
        await desk.app.stop()


async def test_the_dashboard_shows_knowledge_applied_by_queue_entry_and_month(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await resolved(desk, alice)
    await desk.advance(30 * DAY + timedelta(hours=1))
    await tick(desk)
    await alice.presses("Yes, applied")
    await desk.staff("sam", role="secretariat")
    sam = browser(http_app(desk))
    await sam.sign_in(await login_token(desk, "sam"))
    page = (await sam.client.get("/dashboard/kb")).text
    assert "Knowledge applied" in page and "Answers by month asked" in page and "2026-04" in page
    assert page.count('id="applied"') == 1 and "<title>Knowledge base" in page
    assert "<td>ENERGY</td><td>1</td><td>1</td><td>1</td>" in page and "100.0%" in page
    french = (await sam.client.get("/dashboard/kb?lang=fr")).text
    assert "Connaissances appliquées" in french and "Oui, appliqué" in french
