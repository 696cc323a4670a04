"""The web pages over HTTP: chat, login links, role checks, CSRF, escaping, inbox actions, dashboard, exports."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.db.models import Person, Ticket, table
from bot.settings import Settings
from tests.desk import Desk, start_desk
from tests.webdesk import (
    ENERGY_QUESTION,
    FAQ_QUESTION,
    TRANSPORT_QUESTION,
    browser,
    http_app,
    login_token,
    person_token,
)

T, P = table(Ticket), table(Person)


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    desk = await start_desk(sqlite_settings)
    desk.clock.set(datetime.now(UTC).replace(microsecond=0))  # the CLI report below runs on the real clock
    await desk.staff("amina")
    await desk.staff("lucas")
    await desk.staff("sam", role="secretariat")
    yield desk
    await desk.app.stop()


async def ticket_ids(desk: Desk) -> dict[str, int]:
    async with desk.app.engine.connect() as conn:
        return {r.queue_id: r.id for r in await conn.execute(select(T.c.queue_id, T.c.id))}


async def test_practitioner_gets_a_faq_answer_with_buttons_in_the_web_chat(desk: Desk) -> None:
    app = http_app(desk)
    alice = browser(app)
    page = await alice.client.get("/chat", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert page.status_code == 200 and 'lang="fr"' in page.text and "Votre question" in page.text
    assert "hd_chat" in page.cookies and "httponly" in page.headers["set-cookie"].lower()
    assert (await alice.client.post("/chat/send", data={"text": FAQ_QUESTION})).status_code == 403  # no CSRF
    sent = await alice.say(FAQ_QUESTION)
    assert sent.status_code == 202
    await desk.settle()
    items = await alice.history()
    assert items[0] == {"id": sent.json()["id"], "from": "me", "text": FAQ_QUESTION, "buttons": []}
    answer = items[1]
    assert answer["from"] == "bot" and "transparency" in str(answer["text"]).lower() and answer["buttons"]
    # a button press goes through the message path too
    action = answer["buttons"][0]["action"]  # type: ignore[index]
    csrf = await alice.csrf("/chat")
    pressed = await alice.client.post("/chat/send", data={"action": action}, headers={"X-CSRF-Token": csrf})
    assert pressed.status_code == 202
    assert await browser(app).history() == []  # another browser sees nothing of it


async def test_web_channel_pushes_to_open_browsers(desk: Desk) -> None:
    app = http_app(desk)
    channel = desk.app.channels["web"]
    alice = browser(app)
    await alice.say(FAQ_QUESTION)
    chat_id = (await desk_chat_ids(desk))[0]
    queue = channel.subscribe(chat_id)  # type: ignore[attr-defined]
    await desk.settle()
    event = await queue.get()
    assert '"from": "bot"' in event and "Transparency" in event
    channel.unsubscribe(chat_id, queue)  # type: ignore[attr-defined]


async def desk_chat_ids(desk: Desk) -> list[str]:
    from bot.db.models import Identity

    identity = table(Identity)
    async with desk.app.engine.connect() as conn:
        return [r.chat_id for r in await conn.execute(select(identity.c.chat_id).where(identity.c.channel == "web"))]


async def test_login_links_are_single_use_expire_and_cannot_be_forged(desk: Desk) -> None:
    app = http_app(desk)
    token = await login_token(desk, "amina")
    amina = browser(app)
    page = await amina.client.get(f"/login?token={token}")
    assert page.status_code == 200 and "Sign in" in page.text  # GET alone does not use the link up
    assert (await amina.client.post("/login", data={"token": token})).status_code == 403  # no CSRF token
    signed = await amina.sign_in(token)
    assert signed.status_code == 303 and signed.headers["location"] == "/inbox"
    cookie = signed.headers["set-cookie"].lower()
    assert "hd_session" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert (await amina.client.get("/inbox")).status_code == 200
    assert (await browser(app).sign_in(token)).status_code == 403  # replayed
    assert (await browser(app).sign_in(token[:-2] + "xx")).status_code == 403  # forged
    late = await login_token(desk, "lucas")
    desk.clock.advance(timedelta(minutes=16))
    assert (await browser(app).sign_in(late)).status_code == 403  # expired
    forged = browser(app)
    forged.client.cookies.set("hd_session", "eyJwIjoxfQ.forged.sig")
    assert (await forged.client.get("/inbox")).status_code == 401
    copied = amina.client.cookies.get("hd_session")
    csrf = await amina.csrf("/inbox")
    assert (await amina.client.post("/logout", data={"csrf": csrf})).status_code == 303
    assert (await amina.client.get("/inbox")).status_code == 401
    thief = browser(app)
    thief.client.cookies.set("hd_session", copied)
    assert (await thief.client.get("/inbox")).status_code == 401  # signing out revokes copies of the cookie
    again = browser(app)
    await again.sign_in(await login_token(desk, "amina"))
    assert (await again.client.get("/inbox")).status_code == 200  # a new sign-in works


async def test_roles_experts_see_only_their_queues_and_forms_need_csrf(desk: Desk) -> None:
    app = http_app(desk)
    alice, bob = browser(app), browser(app)
    await alice.say(ENERGY_QUESTION)
    await bob.say(TRANSPORT_QUESTION)
    await desk.settle()
    ids = await ticket_ids(desk)
    assert set(ids) == {"ENERGY", "TRANSPORT"}
    anonymous = browser(app)
    for path in ("/inbox", "/dashboard", "/dashboard/charts", "/dashboard/tickets", "/dashboard/sla.csv",
                 "/dashboard/kb", "/dashboard/people", f"/inbox/{ids['ENERGY']}"):
        assert (await anonymous.client.get(path)).status_code == 401, path
    amina = browser(app)
    await amina.sign_in(await login_token(desk, "amina"))
    inbox = await amina.client.get("/inbox")
    assert f"#{ids['ENERGY']}" in inbox.text and f"#{ids['TRANSPORT']}" not in inbox.text
    assert "Your queues: ENERGY, MRV" in inbox.text
    assert (await amina.client.get(f"/inbox/{ids['TRANSPORT']}")).status_code == 404
    assert (await amina.client.get("/dashboard")).status_code == 403
    assert (await amina.client.get("/dashboard/sla.csv")).status_code == 403
    assert (await amina.client.get("/dashboard/kb")).status_code == 403
    assert (await amina.client.get("/dashboard/people")).status_code == 403
    practitioner = (await desk_person_ids(desk, "practitioner"))[0]
    visitor = browser(app)
    await visitor.sign_in(await person_token(desk, practitioner))
    assert (await visitor.client.get("/dashboard")).status_code == 403
    assert (await visitor.client.get("/inbox")).status_code == 403
    ticket = ids["ENERGY"]
    assert (await amina.client.post(f"/inbox/{ticket}", data={"op": "claim"})).status_code == 403  # no CSRF
    csrf = await amina.csrf(f"/inbox/{ticket}")
    assert (await amina.client.post(f"/inbox/{ticket}", data={"op": "claim", "csrf": "wrong"})).status_code == 403
    claimed = await amina.client.post(f"/inbox/{ticket}", data={"op": "claim", "csrf": csrf})
    assert claimed.status_code == 303
    page = await amina.client.get(claimed.headers["location"])
    assert f"Ticket #{ticket} is yours" in page.text  # the bot's answer to the web action
    await amina.client.post(f"/inbox/{ticket}", data={"op": "note", "text": "Check the ESMAP guide", "csrf": csrf})
    await amina.client.post(f"/inbox/{ticket}", data={"op": "reply", "text": "Use a pay-as-bid auction.",
                                                       "csrf": csrf})
    await desk.settle()
    page = await amina.client.get(f"/inbox/{ticket}")
    assert "Internal note" in page.text and "Check the ESMAP guide" in page.text
    assert any("pay-as-bid" in str(item["text"]) for item in await alice.history())  # relayed to the web chat
    assert not any("ESMAP" in str(item["text"]) for item in await alice.history())  # notes stay internal
    assert (await amina.client.post(f"/inbox/{ticket}", data={"op": "drop", "csrf": csrf})).status_code == 400
    async with desk.app.engine.connect() as conn:
        assert (await conn.execute(select(T.c.assignee_id).where(T.c.id == ticket))).scalar() is not None


async def desk_person_ids(desk: Desk, role: str) -> list[int]:
    async with desk.app.engine.connect() as conn:
        return [r.id for r in await conn.execute(select(P.c.id).where(P.c.role == role).order_by(P.c.id))]


async def test_html_in_messages_and_names_is_escaped(desk: Desk) -> None:
    app = http_app(desk)
    mallory = browser(app)
    await mallory.say("<script>alert(1)</script> " + ENERGY_QUESTION)
    await desk.settle()
    async with desk.app.engine.begin() as conn:
        await conn.execute(update(P).where(P.c.role == "practitioner").values(display_name="<img src=x onerror=1>"))
    ids = await ticket_ids(desk)
    sam = browser(app)
    await sam.sign_in(await login_token(desk, "sam"))
    for path in (f"/inbox/{next(iter(ids.values()))}", "/dashboard/tickets?q=script", "/inbox"):
        page = (await sam.client.get(path)).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (await sam.client.get("/dashboard/tickets?q=script")).text


async def test_dashboard_pages_and_csv_export_match_the_report_command(desk: Desk, sqlite_settings: Settings,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    app = http_app(desk)
    for question in (ENERGY_QUESTION, TRANSPORT_QUESTION):
        await browser(app).say(question)
    await desk.settle()
    sam = browser(app)
    assert (await sam.sign_in(await login_token(desk, "sam"))).headers["location"] == "/dashboard"
    overview = await sam.client.get("/dashboard")
    assert overview.status_code == 200 and "open tickets" in overview.text and "target 90%" in overview.text
    charts = (await sam.client.get("/dashboard/charts")).text
    assert charts.count("<svg viewBox") == 5 and "Tickets per week by queue" in charts
    listing = (await sam.client.get("/dashboard/tickets", params={"queue": "ENERGY"})).text
    assert "1 ticket<" in listing and "1 tickets" not in listing and "irrigation pumps" in listing
    assert "2 tickets" in (await sam.client.get("/dashboard/tickets")).text
    experts = (await sam.client.get("/dashboard/experts")).text
    assert "Amina" in experts and "Median first reply after claim" in experts
    knowledge = (await sam.client.get("/dashboard/kb")).text
    assert "Drafts to review" in knowledge and "Questions the FAQ did not answer" in knowledge
    assert "irrigation" in knowledge.lower() or "wind" in knowledge.lower()  # the escalated questions as gaps
    assert "By country" in (await sam.client.get("/dashboard/people")).text
    rows = list(csv.DictReader(io.StringIO((await sam.client.get("/dashboard/tickets.csv?state=new")).text)))
    assert {r["queue"] for r in rows} == {"ENERGY", "TRANSPORT"}
    monkeypatch.setenv("DATABASE_URL", sqlite_settings.database_url)
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)
    for query, args in (("", []), ("?since=2020-01-01&queue=energy", ["--since", "2020-01-01", "--queue", "energy"])):
        web = await sam.client.get(f"/dashboard/sla.csv{query}")
        assert web.headers["content-type"].startswith("text/csv")
        printed = await asyncio.to_thread(CliRunner().invoke, cli, ["report", "sla", "--format", "csv", *args])
        assert printed.exit_code == 0, printed.output
        assert web.text == printed.output
    assert (await sam.client.get("/dashboard/sla.csv?since=yesterday")).status_code == 400


async def test_too_many_chat_posts_from_one_address_get_429(desk: Desk) -> None:
    app = http_app(desk)
    spammer = browser(app)
    csrf = await spammer.csrf("/chat")
    codes = [(await spammer.client.post("/chat/send", data={"text": f"hello {n}"},
                                        headers={"X-CSRF-Token": csrf})).status_code for n in range(21)]
    assert codes[:20] == [202] * 20
    refused = await spammer.client.post("/chat/send", data={"text": "again"}, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


async def test_dashboard_command_sends_a_link_in_private_chats_only(desk: Desk) -> None:
    sam = desk.practitioner("sam")  # sam's telegram identity from the fixture (secretariat)
    await sam.says("/dashboard")
    link = sam.sees("sign-in link").text.rsplit("\n", 1)[1]
    assert link.startswith("http://127.0.0.1:8080/login?token=")
    signed = await browser(http_app(desk)).sign_in(link.rsplit("=", 1)[1])
    assert signed.status_code == 303
    sam.chat_type, sam.chat_id = "group", "group-1"
    await sam.says("/dashboard")
    sam.sees("private chat")


async def test_metrics_embed_magic_code_and_static_files(desk: Desk) -> None:
    app = http_app(desk)
    alice = browser(app)
    await alice.say(FAQ_QUESTION)
    await desk.settle()
    metrics = (await alice.client.get("/metrics")).text
    assert 'helpdesk_messages_in_total{channel="web"} 1.0' in metrics
    assert 'helpdesk_triage_decisions_total{decision="answer"} 1.0' in metrics
    assert "helpdesk_outbox_oldest_pending_seconds 0.0" in metrics and "helpdesk_sla_events" in metrics
    assert "helpdesk_handler_seconds_count 1.0" in metrics and "helpdesk_batch_seconds_bucket" in metrics
    embed = await alice.client.get("/chat/embed.js")
    assert embed.headers["content-type"].startswith("text/javascript") and "/chat?embed=1" in embed.text
    csrf = await alice.csrf("/chat")
    code = (await alice.client.post("/chat/code", headers={"X-CSRF-Token": csrf})).json()["code"]
    phone = browser(app)
    csrf_phone = await phone.csrf("/chat")
    moved = await phone.client.post("/chat/redeem", data={"code": code, "csrf": csrf_phone})
    assert moved.headers["location"] == "/chat"
    assert [i["text"] for i in await phone.history()] == [i["text"] for i in await alice.history()]
    reused = await browser(app).client.post("/chat/redeem", data={"code": code, "csrf": csrf_phone})
    assert reused.status_code == 403  # that browser has no CSRF cookie
    assert (await alice.client.get("/static/site.css")).status_code == 200
    assert (await alice.client.get("/static/../app.py")).status_code == 404
    assert (await alice.client.get("/static/%2e%2e/app.py")).status_code == 404


def test_login_link_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["users", "add", "sam", "--role", "secretariat"]).exit_code == 0
    printed = runner.invoke(cli, ["users", "login-link", "sam"])
    assert printed.exit_code == 0 and "/login?token=" in printed.output
    unknown = runner.invoke(cli, ["users", "login-link", "nobody"])
    assert unknown.exit_code == 2 and "no expert or secretariat" in unknown.output


PDF = b"%PDF-1.4\n% pump datasheet\n"


async def test_web_chat_file_reaches_the_ticket_and_only_its_people_may_download_it(desk: Desk) -> None:
    from bot.channels.base import with_file_notes
    from bot.core.messages import Attachment, IncomingMessage
    from bot.db.models import Outbox

    app = http_app(desk)
    alice = browser(app)
    assert (await alice.client.post("/chat/upload", files={"file": ("a.pdf", PDF)})).status_code == 403  # no CSRF
    alone = await alice.upload("pumps.pdf", PDF)  # no question yet: nothing to pass on
    assert alone.status_code == 202
    await desk.settle()
    assert any("with your question" in str(item["text"]) for item in await alice.history())
    await alice.say(ENERGY_QUESTION)
    await desk.settle()
    ticket = (await ticket_ids(desk))["ENERGY"]
    await (await desk.staff("amina")).says(f"/claim {ticket}")  # amina works on Telegram
    sent = await alice.upload("C:\\specs\\pump specs.pdf", PDF, "The pump datasheet")
    assert sent.status_code == 202
    url = sent.json()["files"][0]["url"]
    assert url.startswith("/files/") and sent.json()["files"][0]["label"] == "📎 pump specs.pdf (1 KB)"
    await desk.settle()
    mine = [item for item in await alice.history() if item["text"] == "The pump datasheet"]
    assert mine[0]["from"] == "me" and mine[0]["files"] == [{"label": "📎 pump specs.pdf (1 KB)", "url": url}]
    async with desk.app.engine.connect() as conn:  # the relay to amina on Telegram carries a link to the file
        row = (await conn.execute(select(table(Outbox)).where(table(Outbox).c.chat_id == "dm-amina")
                                  .order_by(table(Outbox).c.id.desc()))).first()
    assert row is not None
    relayed = with_file_notes(row.text, [Attachment(**a) for a in row.attachments], "telegram")
    assert "The pump datasheet" in relayed and f"📎 pump specs.pdf (1 KB) http://127.0.0.1:8080{url}" in relayed

    got = await alice.client.get(url)
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;") and "pump%20specs.pdf" in \
        got.headers["content-disposition"]
    assert got.headers["x-content-type-options"] == "nosniff"
    amina = browser(app)
    await amina.sign_in(await login_token(desk, "amina"))
    page = (await amina.client.get(f"/inbox/{ticket}")).text
    assert f'href="{url}"' in page and "The pump datasheet" in page  # the ticket's thread links the file
    assert (await amina.client.get(url)).content == PDF
    sam = browser(app)
    await sam.sign_in(await login_token(desk, "sam"))
    assert (await sam.client.get(url)).status_code == 200
    await desk.staff("sofia")  # AFOLU and FINANCE: not this ticket's queue
    sofia = browser(app)
    await sofia.sign_in(await login_token(desk, "sofia"))
    assert (await sofia.client.get(url)).status_code == 404
    bob = browser(app)
    await bob.say(TRANSPORT_QUESTION)
    assert (await bob.client.get(url)).status_code == 404  # another practitioner
    assert (await browser(app).client.get(url)).status_code == 403  # nobody signed in, no chat
    assert (await alice.client.get("/files/nope")).status_code == 404
    for sneaky in ("/files/../bot/app.py", "/files/%2e%2e%2fbot%2fapp.py", "/files/..%2f..%2fetc%2fpasswd"):
        assert (await alice.client.get(sneaky)).status_code == 404  # ids are looked up, never paths
    guide = Attachment("document", "BQAC-guide", "guide.pdf", 2048, "application/pdf", "telegram")
    await desk.app.submit(IncomingMessage(channel="telegram", external_id="tg-guide", user_id="amina",
                                          chat_id="dm-amina", text=f"/reply {ticket} See the guide",
                                          attachments=(guide,)))
    await desk.settle()
    answer = (await alice.history())[-1]  # a Telegram file becomes a web chat link (test_files_both_ways.py) …
    assert "See the guide" in str(answer["text"]) and answer["files"][0]["label"] == "📎 guide.pdf (2 KB)"
    assert (await alice.client.get(answer["files"][0]["url"])).status_code == 404  # … no Telegram here to fetch it


async def test_uploads_over_the_size_limit_or_of_other_types_are_refused_clearly(desk: Desk) -> None:
    app = http_app(desk)
    alice = browser(app)
    limit = desk.app.config.service.max_attachment_mb
    huge = await alice.upload("big.pdf", b"%PDF-" + b"0" * (limit * 2**20))
    assert huge.status_code == 413 and huge.json()["message"] == \
        f"Files can be at most {limit} MB. Please send a smaller file or a link."
    alice.client.headers["Accept-Language"] = "es"
    for name, content in (("page.html", b"<html><script>alert(1)</script></html>"),
                          ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
                          ("setup.exe", b"MZ\x90\x00\x03"), ("report.pdf", b"MZ\x90\x00\x03"),
                          ("notes.txt", b"<script>alert(1)</script>"), ("empty.pdf", b"")):
        refused = await alice.upload(name, content)
        assert refused.status_code == 415, name
        assert refused.json()["message"].startswith(f"No puedo transmitir archivos del tipo de {name}"), name
        assert "pdf, docx" in refused.json()["message"]
    csrf = await alice.csrf("/chat")
    nothing = await alice.client.post("/chat/upload", data={"text": "hi"}, headers={"X-CSRF-Token": csrf})
    assert nothing.status_code == 400 and nothing.json()["message"] == "Elija un archivo para enviar."
    async with desk.app.engine.connect() as conn:
        assert not list(await conn.execute(select(table(Ticket))))  # nothing refused reached the message path
    assert not (desk.app.settings.helpdesk_files_dir).exists()  # nor the disk


def test_file_types_are_sniffed_not_taken_from_the_name() -> None:
    import io
    import zipfile

    from bot.config import ServiceInfo
    from bot.core.files import Refusal, check

    def archive(members: dict[str, bytes]) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for name, content in members.items():
                z.writestr(name, content)
        return out.getvalue()

    service = ServiceInfo()
    docx = archive({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    odt = archive({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
    assert check("plan.docx", docx, service).endswith("wordprocessingml.document")  # type: ignore[union-attr]
    assert check("plan.odt", odt, service) == "application/vnd.oasis.opendocument.text"
    assert check("photo.JPG", b"\xff\xd8\xff\xe0 jpeg", service) == "image/jpeg"
    assert check("data.csv", "año;tCO2e\n2024;12\n".encode(), service) == "text/csv"
    assert isinstance(check("plan.xlsx", docx, service), Refusal)  # a Word file called a spreadsheet
    assert isinstance(check("plan.docx", b"PK\x03\x04 not a zip", service), Refusal)
    assert isinstance(check("deck.ppt", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", service), Refusal)  # not in the config


async def test_web_chat_answers_each_message_in_its_own_language(desk: Desk) -> None:
    app = http_app(desk)
    claire = browser(app)
    await claire.client.get("/chat", headers={"Accept-Language": "en-GB,en;q=0.9"})  # an English page
    await claire.say("Que contient un rapport biennal de transparence ?")
    await claire.say("4")
    await claire.say("How do I bake bread?")
    await desk.settle()
    said = [str(item["text"]) for item in await claire.history() if item["from"] == "bot"]
    assert any("Source :" in text and "rapports biennaux" in text for text in said)  # French question, French answer
    assert any("Un nombre seul n'est pas une question" in text for text in said)  # "4": her last language
    offer = next(item for item in await claire.history() if "does not look like one of the topics" in str(item["text"]))
    assert [b["label"] for b in offer["buttons"]][-2:] == ["Send it to the secretariat", "Drop it"]  # type: ignore[index]
    assert await ticket_ids(desk) == {}
