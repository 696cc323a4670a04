"""Export and erasure of personal data, verified by searching the whole database afterwards."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import String, Text, select

from bot.db.models import Base, Ticket, table
from bot.settings import Settings
from tests.desk import Desk

SECRET_QUESTION = "Zanzibar Ministry of Blue Economy needs tariff advice for solar irrigation pumps"



async def strings_in_database(desk: Desk) -> str:
    """Every text value in every table, joined: what an auditor would grep."""
    found: list[str] = []
    async with desk.app.engine.connect() as conn:
        for tbl in Base.metadata.sorted_tables:
            columns = [c for c in tbl.columns
                       if isinstance(c.type, String | Text) or c.type.__class__.__name__ == "JSON"]
            if not columns:
                continue
            for row in await conn.execute(select(*columns)):
                found.extend(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
                             for v in row if v is not None)
    return "\n".join(found)


async def fill_profile_and_ask(desk: Desk) -> None:
    zara = desk.practitioner("zara", lang="en")
    await zara.says(SECRET_QUESTION)
    await zara.presses("Tell us about you")
    await zara.says("Ruritania")
    await zara.says("Zanzibar Blue Economy Office")
    await zara.presses("Government official")
    await zara.presses("Energy")
    amina = await desk.staff("amina")
    await amina.says("/claim 1")
    await amina.says("Which pumps does the Zanzibar office use?")
    await zara.says("Grundfos 5 kW pumps at Kizimkazi")
    await amina.says("/resolve 1 Kizimkazi pumps: use a block tariff.")
    await zara.presses("★★★★")
    await zara.says("Helpful for Kizimkazi")


async def test_mydata_exports_everything_and_forgetme_erases_everywhere(desk: Desk) -> None:
    await fill_profile_and_ask(desk)
    zara = desk.practitioner("zara", lang="en")
    await zara.says("/mydata")
    export = json.loads(zara.replies()[-1].text)
    assert export["person"][0]["country"] == "Ruritania"
    assert export["tickets"][0]["question"] == SECRET_QUESTION
    assert export["ratings"] == [{"ticket": 1, "rating": 4, "comment": "Helpful for Kizimkazi"}]
    assert any("Kizimkazi" in m["text"] for m in export["messages"])
    assert export["triage_decisions"]

    before = await strings_in_database(desk)
    assert "Kizimkazi" in before and "Zanzibar" in before and "Ruritania" in before
    await zara.says("/forgetme")
    await zara.presses("Yes, erase")
    zara.sees("has been erased")
    after = await strings_in_database(desk)
    for personal in ("Kizimkazi", "Zanzibar", "Ruritania", "Zara", "dm-zara", "Grundfos"):
        assert personal not in after, personal
    async with desk.app.engine.connect() as conn:
        tickets = list(await conn.execute(select(table(Ticket).c.state, table(Ticket).c.rating)))
    assert tickets == [("resolved", 4)]  # anonymous counts remain for the reports


async def test_erasure_covers_staff_messages_naming_the_person_with_or_without_a_ticket(desk: Desk) -> None:
    amina = await desk.staff("amina")
    sam = await desk.staff("sam", role="secretariat")
    await amina.says("/reply 1 Zoe, which pumps does your office use?")  # before the ticket exists: refused
    amina.sees("There is no ticket #1")
    zoe = desk.practitioner("zoe", lang="en")
    await zoe.says(SECRET_QUESTION)
    await amina.says("/claim 1")
    await sam.says("Heads-up: ZOE from Zanzibar may write again next week")  # a staff chat, no ticket
    await amina.says("//Zoe sounded unsure about the tariff")
    kept = "Reminder to all: tariffs are due Friday"
    await sam.says(kept)
    before = await strings_in_database(desk)
    assert before.count("Zoe") >= 3 and "ZOE" in before

    await zoe.says("/forgetme")
    await zoe.presses("Yes, erase")
    after = await strings_in_database(desk)
    for personal in ("Zoe", "ZOE", "zoe", "Zanzibar"):
        assert personal not in after, personal
    assert kept in after  # staff messages that do not name them stay


async def test_forgetme_can_be_cancelled(desk: Desk) -> None:
    zara = desk.practitioner("zara", lang="es")
    await zara.says("/forgetme")
    await zara.presses("Cancelar")
    zara.sees("No se borró nada")


async def test_retention_anonymises_old_closed_tickets_and_keeps_counts(desk: Desk) -> None:
    from datetime import timedelta

    from bot.core.privacy import apply_retention

    await fill_profile_and_ask(desk)
    fresh = desk.practitioner("yann", lang="en")
    await fresh.says("Kizimkazi-free question about solar irrigation pumping tariffs for remote farms")
    async with desk.app.engine.begin() as conn:
        assert await apply_retention(conn, desk.clock.now() + timedelta(days=300), 24) == 0
        assert await apply_retention(conn, desk.clock.now() + timedelta(days=800), 24) == 1  # only the resolved one
        assert await apply_retention(conn, desk.clock.now() + timedelta(days=800), 24) == 0  # idempotent
        rows = list(await conn.execute(select(table(Ticket).c.question, table(Ticket).c.rating,
                                              table(Ticket).c.state).order_by(table(Ticket).c.id)))
    assert rows[0] == ("[erased]", 4, "resolved")
    assert rows[1][0].startswith("Kizimkazi-free")
    assert "Grundfos" not in await strings_in_database(desk)


async def test_web_chat_files_are_exported_and_erased_with_their_bytes(desk: Desk, sqlite_settings: Settings,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from typer.testing import CliRunner

    from bot.cli.main import app as cli
    from bot.core.privacy import ERASE_STEPS
    from bot.db.models import StoredFile
    from tests.webdesk import browser, http_app

    app = http_app(desk)
    zara, yann = browser(app), browser(app)
    await zara.say(SECRET_QUESTION)
    assert (await zara.upload("kizimkazi-pumps.pdf", b"%PDF-1.4 Kizimkazi pumps", "our pumps")).status_code == 202
    assert (await zara.upload("tariff.pdf", b"%PDF-1.4 block tariff", "the tariff")).status_code == 202
    shared = await yann.upload("copy.pdf", b"%PDF-1.4 block tariff", "same file as Zara's")
    await desk.settle()
    assert desk.app.services is not None and desk.app.services.files is not None
    folder = desk.app.services.files.directory
    assert len([p for p in folder.rglob("*") if p.is_file()]) == 2  # the same content is stored once
    async with desk.app.engine.connect() as conn:
        person = (await conn.execute(select(table(StoredFile).c.person_id)
                                     .where(table(StoredFile).c.name == "tariff.pdf"))).scalar_one()
    monkeypatch.setenv("DATABASE_URL", sqlite_settings.database_url)
    monkeypatch.setenv("HELPDESK_FILES_DIR", str(folder))
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)

    exported = await asyncio.to_thread(CliRunner().invoke, cli, ["privacy", "export", str(person)])
    assert exported.exit_code == 0, exported.output
    files = json.loads(exported.output)["files"]
    assert [(f["name"], f["mime"], f["size"]) for f in files] == [("kizimkazi-pumps.pdf", "application/pdf", 24),
                                                                  ("tariff.pdf", "application/pdf", 21)]
    erased = await asyncio.to_thread(CliRunner().invoke, cli, ["privacy", "erase", str(person), "--yes"])
    assert erased.exit_code == 0 and "files 2" in erased.output, erased.output
    assert f"privacy erase: steps: {ERASE_STEPS}/{ERASE_STEPS} (100%)" in erased.output  # the progress, as plain lines
    left = [p for p in folder.rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in left] == [b"%PDF-1.4 block tariff"]  # still Yann's
    assert "Kizimkazi" not in await strings_in_database(desk) and "kizimkazi" not in await strings_in_database(desk)
    assert (await yann.client.get(shared.json()["files"][0]["url"])).content == b"%PDF-1.4 block tariff"


async def test_retention_deletes_files_of_old_closed_tickets(desk: Desk) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from bot.core.privacy import apply_retention
    from bot.db.models import StoredFile
    from tests.webdesk import browser, http_app

    zara = browser(http_app(desk))
    await zara.say(SECRET_QUESTION)
    assert (await zara.upload("pumps.pdf", b"%PDF-1.4 pumps", "our pumps")).status_code == 202
    assert desk.app.services is not None and desk.app.services.files is not None
    store = desk.app.services.files
    T = table(Ticket)
    async with desk.app.engine.begin() as conn:
        await conn.execute(update(T).values(state="closed", closed_at=desk.clock.now()))
        assert await apply_retention(conn, desk.clock.now() + timedelta(days=800), 24, store) == 1
        assert not list(await conn.execute(select(table(StoredFile))))
    assert not [p for p in store.directory.rglob("*") if p.is_file()]
