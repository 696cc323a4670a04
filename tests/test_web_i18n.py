"""Staff pages in English, Spanish and French: the viewer's language, the switch, Accept-Language, no English left."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from sqlalchemy import select, update

from bot.db.models import KBDraft, Person, Ticket, table
from bot.i18n import catalog
from bot.settings import Settings
from tests.desk import Desk, add_person, start_desk
from tests.webdesk import ENERGY_QUESTION, TRANSPORT_QUESTION, Browser, browser, http_app, login_token

T, P = table(Ticket), table(Person)
SECRETARIAT = {"en": "sam", "es": "sofia", "fr": "luc"}  # a secretariat member speaking each language
EXPERTS = {"en": "amina", "es": "lucas"}  # experts in the config's queues, set to these languages
PAGES = ("/dashboard", "/dashboard/charts", "/dashboard/tickets", "/dashboard/experts", "/dashboard/kb",
         "/dashboard/people", "/inbox", "/login")
WORD = re.compile(r"[^\W\d_]{3,}")


class VisibleText(HTMLParser):
    """The words a person sees or hears on a page: text nodes and labelling attributes; not scripts, nor commands
    (`<code>`: the same in every language)."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style", "code")
        self.nodes += [v for k, v in attrs if k in ("aria-label", "placeholder", "title", "alt") and v]

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style", "code")

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.nodes.append(data.strip())


def visible(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.nodes


def words(texts: object) -> set[str]:
    return {w.lower() for w in WORD.findall(" ".join(texts) if not isinstance(texts, str) else texts)}


def staff_words(lang: str) -> set[str]:
    return words(v for k, v in catalog(lang).items() if k.startswith("staff."))


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    desk = await start_desk(sqlite_settings)
    desk.clock.set(datetime.now(UTC).replace(microsecond=0))
    for handle in EXPERTS.values():
        await desk.staff(handle)
    for lang, handle in SECRETARIAT.items():
        await add_person(desk.app, handle, "secretariat", "telegram", lang=lang)
    async with desk.app.engine.begin() as conn:
        for lang, handle in EXPERTS.items():
            await conn.execute(update(P).where(P.c.handle == handle).values(language=lang))
    app = http_app(desk)
    for question in (ENERGY_QUESTION, TRANSPORT_QUESTION):
        await browser(app).say(question)
    await desk.settle()
    async with desk.app.engine.begin() as conn:  # something on every page: a draft, a profile
        await conn.execute(update(P).where(P.c.role == "practitioner").values(country="Kenya", sector="energy"))
        ticket = (await conn.execute(select(T.c.id).order_by(T.c.id))).scalars().first()
        await conn.execute(table(KBDraft).insert().values(
            ticket_id=ticket, queue_id="ENERGY", lang="en", question="Solar pump tariffs?", answer="Use auctions.",
            status="pending", created_at=desk.clock.now()))
    yield desk
    await desk.app.stop()


async def signed_in(desk: Desk, handle: str) -> Browser:
    person = browser(http_app(desk))
    assert (await person.sign_in(await login_token(desk, handle))).status_code == 303
    return person


async def pages(person: Browser, paths: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for path in paths:
        response = await person.client.get(path)
        assert response.status_code == 200, path
        found[path] = response.text
    return found


async def test_dashboard_and_inbox_speak_the_viewers_language(desk: Desk) -> None:
    ticket = (await desk_tickets(desk))[0]
    rendered = {lang: await pages(await signed_in(desk, handle), (*PAGES, f"/inbox/{ticket}"))
                for lang, handle in SECRETARIAT.items()}
    expected = {"es": ("Resumen", "tickets abiertos", "Todas las colas", "Incumplimientos", "Cerrar sesión (Sofia)"),
                "fr": ("Vue d'ensemble", "tickets ouverts", "Toutes les files", "Dépassements", "Se déconnecter (Luc)")}
    for lang, phrases in expected.items():
        dashboard = " ".join(visible(rendered[lang]["/dashboard"]))
        assert f'<html lang="{lang}">' in rendered[lang]["/dashboard"]
        assert all(p in dashboard for p in phrases), (lang, dashboard)
    inbox = {lang: " ".join(visible(r["/inbox"])) for lang, r in rendered.items()}
    assert "Todas las colas (secretaría)" in inbox["es"] and "Toutes les files (secrétariat)" in inbox["fr"]
    assert "Esperando a un experto" in inbox["es"] and "En attente d'un expert" in inbox["fr"]
    charts = " ".join(visible(rendered["fr"]["/dashboard/charts"]))
    assert "Tickets par semaine et par file" in charts and "première réponse" in charts  # titles and legends
    assert "objectif 90%" in charts  # the target line's label

    # No English label is left: every word of the English staff texts that is neither data on the page nor the same
    # word in the other language (ticket, sector…) is absent from the Spanish and French pages.
    data = words(await desk_data(desk))
    for lang in ("es", "fr"):
        english_only = staff_words("en") - staff_words(lang) - data
        for path, html in rendered[lang].items():
            leaked = {w for node in visible(html) for w in words(node) & english_only}
            assert not leaked, (lang, path, leaked)
            assert words(visible(rendered["en"][path])) & english_only, path  # the check is not vacuous
            assert visible(html) != visible(rendered["en"][path])


async def test_an_experts_inbox_and_ticket_page_in_spanish(desk: Desk) -> None:
    lucas = await signed_in(desk, "lucas")  # language es
    inbox = " ".join(visible((await lucas.client.get("/inbox")).text))
    assert "Sus colas: ENERGY, SUBNATIONAL, TRANSPORT" in inbox and "Sus tickets" in inbox
    assert "No tiene tickets abiertos." in inbox
    ticket = (await desk_tickets(desk))[1]
    page = " ".join(visible((await lucas.client.get(f"/inbox/{ticket}")).text))
    assert "Acciones sobre este ticket" in page and "Tomar" in page and "nuevo" in page and "sin asignar" in page
    amina = await signed_in(desk, "amina")  # language en: unchanged English
    assert "Your queues: ENERGY, MRV" in (await amina.client.get("/inbox")).text


async def test_the_switch_overrides_and_is_remembered_accept_language_for_strangers(desk: Desk) -> None:
    sofia = await signed_in(desk, "sofia")
    switched = await sofia.client.get("/dashboard?lang=fr")
    assert "Vue d&#39;ensemble" in switched.text and "hd_staff_lang=fr" in switched.headers["set-cookie"]
    assert '<html lang="fr">' in (await sofia.client.get("/dashboard/kb")).text  # remembered
    links = re.findall(r'href="(/dashboard/tickets\?[^"]*lang=\w\w)"', (await sofia.client.get(
        "/dashboard/tickets?queue=ENERGY")).text)
    assert links == ["/dashboard/tickets?queue=ENERGY&amp;lang=en", "/dashboard/tickets?queue=ENERGY&amp;lang=es",
                     "/dashboard/tickets?queue=ENERGY&amp;lang=fr"]  # the switch keeps the filters
    stranger = browser(http_app(desk))
    login = await stranger.client.get("/login", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    assert '<html lang="es">' in login.text and "Iniciar sesión" in login.text
    assert "enviando <code>/dashboard</code> al bot" in login.text  # a command inside a translated sentence
    refused = await stranger.client.get("/inbox", headers={"Accept-Language": "fr"})
    assert refused.status_code == 401 and "Veuillez vous connecter" in refused.text
    assert "Please sign in" in (await stranger.client.get("/inbox")).text


async def test_csv_exports_keep_their_english_machine_readable_headers(desk: Desk) -> None:
    sofia = await signed_in(desk, "sofia")
    sla = (await sofia.client.get("/dashboard/sla.csv")).text
    assert sla.startswith("queue,tickets,first_response_met,")
    tickets = (await sofia.client.get("/dashboard/tickets.csv")).text
    assert tickets.startswith("id,queue,state,priority,language,created_at,assignee,breached,next_due,question")


async def desk_tickets(desk: Desk) -> list[int]:
    async with desk.app.engine.connect() as conn:
        return list((await conn.execute(select(T.c.id).order_by(T.c.id))).scalars())


async def desk_data(desk: Desk) -> list[str]:
    """What the pages show from the database: questions, names, queue ids, time zones, FAQ entry ids."""
    assert desk.app.services is not None
    async with desk.app.engine.connect() as conn:
        found = [r.question for r in await conn.execute(select(T.c.question))]
        found += [f"{r.display_name} {r.handle or ''} {r.timezone}" for r in await conn.execute(select(P))]
    return [*found, *desk.app.config.queue_ids, *desk.app.services.kb.entries, "Solar pump tariffs? Use auctions."]
