"""Transcripts of topic subscriptions and the weekly digest: subscribe on Telegram and Slack in two languages,
a digest with what changed, sent once per subscriber across a restart and with two replicas on PostgreSQL,
nothing new (not sent), unsubscribe in one tap, a subscriber who blocked the bot, export and erasure."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from bot.cli import main
from bot.core.digest import send_due
from bot.core.knowledge import import_entries
from bot.core.messages import OutgoingMessage
from bot.core.outbox import PermanentFailure
from bot.db.engine import create_engine
from bot.db.models import DigestRound, Person, TopicSubscription, table
from bot.settings import Settings
from kb.files import load_kb_dir
from tests.cli_support import helpdesk, use_database
from tests.desk import KB_DIR, Actor, Desk, start_desk
from tests.test_dialogue_outcomes import tick

S, R, P = table(TopicSubscription), table(DigestRound), table(Person)
DAY, WEEK = timedelta(days=1), timedelta(days=7)
ENTRIES = {e.id: e for e in load_kb_dir(KB_DIR).entries}


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(sqlite_settings)  # Monday 2 March 2026, 09:00 UTC
    yield d
    await d.app.stop()


async def subscribe(person: Actor, queue_name: str) -> None:
    await person.says("/subscribe")
    await person.presses(queue_name)


async def change_entry(desk: Desk, entry_id: str, answer: str) -> None:
    """An FAQ entry gets a new answer (as `kb import` or an approved draft does)."""
    async with desk.app.engine.begin() as conn:
        await import_entries(conn, [replace(ENTRIES[entry_id], answer=answer)], desk.clock.now(),
                             retire_missing=False)


def digests(person: Actor) -> list[str]:
    return [p.text for p in person.posts if "since your last digest" in p.text or "último resumen" in p.text]


async def test_a_weekly_digest_in_each_subscribers_language_sent_once(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    bruno = desk.practitioner("bruno", channel="slack", lang="es")
    await subscribe(alice, "Energy")
    alice.sees("Subscribed to ENERGY", "next Monday")
    await alice.says("/subscribe")
    assert "✓ Energy" in alice.buttons("Choose the topics") and "subscribed to: ENERGY" in alice.replies_text()
    await subscribe(bruno, "Energy")
    bruno.sees("Suscrito a ENERGY", "próximo lunes")

    await desk.advance(DAY)
    await change_entry(desk, "efficiency-standards-labelling", "Start with minimum energy performance standards.")
    assert await tick(desk) == 0  # Tuesday: not the digest's day

    await desk.advance(6 * DAY)  # Monday 9 March, 09:00
    assert await tick(desk) == 2
    [english] = digests(alice)
    assert "Updated: " in english and "minimum energy performance standards" in english and "[ENERGY]" in english
    [spanish] = digests(bruno)
    assert "Lo aprendido desde su último resumen (1)" in spanish and "Actualizado:" in spanish
    assert ENTRIES["efficiency-standards-labelling-es"].question in spanish  # the topic in the reader's language
    assert await tick(desk) == 0  # once
    assert await send_due(desk.app.engine, desk.app.services, desk.clock.now()) == 0  # and after a restart

    await desk.advance(WEEK)  # nothing new: no digest
    assert await tick(desk) == 0
    async with desk.app.engine.connect() as conn:
        rounds = list(await conn.execute(select(R.c.period, R.c.listed).order_by(R.c.period, R.c.id)))
    today = desk.clock.now().date()
    assert rounds == [(today - WEEK, 1), (today - WEEK, 1), (today, 0), (today, 0)]  # alice's and bruno's

    await alice.presses("Unsubscribe: ENERGY")  # one tap on the digest
    alice.sees("Unsubscribed from ENERGY")
    await alice.presses("Unsubscribe: ENERGY")
    alice.sees("You were not subscribed to ENERGY")
    await desk.advance(DAY)
    await change_entry(desk, "re-auction-design", "Use pay-as-bid auctions with a ceiling price.")
    await desk.advance(6 * DAY)
    assert await tick(desk) == 1  # bruno only
    assert len(digests(alice)) == 1 and len(digests(bruno)) == 2


async def test_a_subscriber_who_blocked_the_bot_keeps_the_subscription_until_back(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    carol = desk.practitioner("carol", lang="en")
    await subscribe(carol, "Energy")
    telegram = desk.channel("telegram")
    deliver = telegram.send

    async def blocked(message: OutgoingMessage) -> str | None:
        if message.chat_id == "dm-carol":
            raise PermanentFailure("403 bot was blocked by the user", unreachable=True)
        return await deliver(message)

    monkeypatch.setattr(telegram, "send", blocked)
    await desk.advance(DAY)
    await change_entry(desk, "re-auction-design", "Use pay-as-bid auctions with a ceiling price.")
    await desk.advance(6 * DAY)
    assert await tick(desk) == 1  # tried: the delivery fails for good, she is marked unreachable
    await desk.advance(DAY)
    await change_entry(desk, "fit-vs-auctions", "Feed-in tariffs for small plants, auctions above 5 MW.")
    await desk.advance(6 * DAY)
    assert await tick(desk) == 0  # no more sending to someone who blocked the bot
    async with desk.app.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(S))).scalar_one() == 1  # still subscribed

    monkeypatch.setattr(telegram, "send", deliver)
    await carol.says("/help")  # she is back
    assert await tick(desk) == 1
    [digest] = digests(carol)
    assert "auctions above 5 MW" in digest


async def test_preview_send_and_privacy(desk: Desk, sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = desk.practitioner("alice", lang="fr")
    await subscribe(alice, "Energy")
    alice.sees("Abonné à ENERGY", "lundi prochain")
    await desk.advance(DAY)
    await change_entry(desk, "mini-grid-regulation", "Light-handed regulation for small mini-grids.")
    use_database(monkeypatch, sqlite_settings)
    preview = await helpdesk("digest", "preview", "--queue", "energy", "--lang", "fr", "--since", "2026-03-03")
    assert "Mis à jour :" in preview and ENTRIES["mini-grid-regulation-fr"].question in preview
    assert "Nothing new in MRV" in await helpdesk("digest", "preview", "--queue", "MRV")
    refused = CliRunner().invoke(main.app, ["digest", "preview", "--queue", "NOPE"])
    assert refused.exit_code == 2 and "unknown queue 'NOPE'" in refused.output
    sent = re.fullmatch(r"(\d) digest\(s\) written to the outbox.\n", await helpdesk("digest", "send"))
    assert sent is not None  # on the real clock: 1 outside alice's quiet hours, else 0
    async with desk.app.engine.connect() as conn:
        rounds = (await conn.execute(select(func.count()).select_from(R).where(R.c.listed > 0))).scalar_one()
    assert int(sent.group(1)) == rounds
    await alice.says("/mydata")
    exported = json.loads(alice.replies()[-1].text)
    assert [s["queue_id"] for s in exported["subscriptions"]] == ["ENERGY"]
    await alice.says("/forgetme")
    await alice.presses("Oui")
    async with desk.app.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(S))).scalar_one() == 0


async def test_two_replicas_on_postgresql_send_each_digest_once(pg_settings: Settings) -> None:
    desk = await start_desk(pg_settings)
    other = create_engine(pg_settings.database_url, schema=pg_settings.database_schema)
    try:
        people = [desk.practitioner(f"p{n}", lang="en") for n in range(5)]
        for person in people:
            await subscribe(person, "Energy")
        await desk.advance(DAY)
        await change_entry(desk, "re-auction-design", "Use pay-as-bid auctions with a ceiling price.")
        await desk.advance(6 * DAY)
        services, now = desk.app.services, desk.clock.now()
        assert services is not None
        written = await asyncio.gather(send_due(desk.app.engine, services, now), send_due(other, services, now))
        assert sum(written) == 5
        assert await send_due(other, services, now) == 0
        await desk.settle()
        assert [len(digests(p)) for p in people] == [1] * 5
    finally:
        await other.dispose()
        await desk.app.stop()


async def test_the_digest_waits_for_the_subscribers_morning_in_their_time_zone(desk: Desk) -> None:
    lucia = desk.practitioner("lucia", lang="es")
    await subscribe(lucia, "Energy")
    async with desk.app.engine.begin() as conn:
        await conn.execute(update(P).where(P.c.handle.is_(None)).values(timezone="America/Lima"))  # UTC-5
    await desk.advance(DAY)
    await change_entry(desk, "re-auction-design", "Use pay-as-bid auctions with a ceiling price.")
    await desk.advance(6 * DAY)  # Monday 09:00 UTC is 04:00 in Lima
    assert await tick(desk) == 0
    await desk.advance(timedelta(hours=5))  # 09:00 in Lima
    assert await tick(desk) == 1
    assert "Actualizado:" in digests(lucia)[0]
