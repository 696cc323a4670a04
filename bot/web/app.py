"""The web routes: /chat (practitioners), /login, /inbox (experts), /dashboard (secretariat), /metrics.

Every action goes through the message path (HelpDesk.submit) as a `web` channel message, so permissions,
audit and the outbox stay in one place. Pages are Jinja2 with autoescape; every POST must come from the site's
own pages (Origin / Sec-Fetch-Site) and carry the CSRF token bound to the browser's session or chat (auth.py).
Numbers and dates from URLs and forms are checked into range (params.py): a bad one is a 400 or 404, never a 500.
See docs/web.md, "Security model".
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.app import HelpDesk
from bot.channels.web import WebChannel, file_items, file_url
from bot.core import files, linking
from bot.core.kb_metrics import entry_stats, gaps, stale_entries
from bot.core.login import STAFF_ROLES, redeem_login_token
from bot.core.messages import Attachment, IncomingMessage
from bot.core.needs import NeedsReport, faq_answers, needs_csv, needs_report
from bot.core.outcome_report import outcome_report
from bot.core.pipeline import Outcome
from bot.core.reports import hours_text, percent_text, sla_csv, sla_report
from bot.core.tickets import OPEN_STATES
from bot.db.driver import upsert
from bot.db.models import AppSetting, Identity, KBDraft, Person, Ticket, table
from bot.i18n import t
from bot.web import charts, data, learning
from bot.web.auth import CHAT, CHAT_AGE, SESSION, SESSION_AGE, Cookies, Viewer, same_origin, web_identity
from bot.web.limits import HOUR, IpLimiter, RecentTickets, client_address
from bot.web.metrics import metrics_text
from bot.web.params import MAX_ID, MAX_PAGE, Invalid, day, in_id_range, whole_number
from bot.web.texts import (
    LANGUAGE_NAMES,
    STAFF_LANG,
    chat_language,
    chat_texts,
    chosen_language,
    code,
    language_links,
    staff_language,
    translator,
)

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
P, I, T = table(Person), table(Identity), table(Ticket)  # noqa: E741
MAX_TEXT = 4000  # characters of one chat message
UPLOAD_SLACK = 64 * 1024  # bytes an upload's request may carry beyond the file (form fields, multipart framing)
CHAT_POSTS = 20  # chat messages one IP may send per CHAT_WINDOW seconds
CHAT_WINDOW = 60.0
KEEPALIVE = 15.0  # seconds between SSE comments on a quiet stream
OPS = ("claim", "release", "transfer", "resolve", "reply", "note")  # the inbox's forms, as chat commands
STATES = ("new", "open", "waiting", "resolved", "closed")
Handler = Callable[[Request], Awaitable[Response]]
SIGNED_OUT = "signed_out:"  # app_setting key prefix: when a person last signed out of the web pages


def local_time(moment: datetime | None, zone: str) -> str:
    """A moment in a time zone, in every language alike, e.g. '2026-03-03 14:00 (Europe/Paris)'."""
    if moment is None:
        return "—"
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError):
        tz, zone = ZoneInfo("UTC"), "UTC"
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M} ({zone})"


class WebApp:
    """The pages of one running help desk."""

    def __init__(self, desk: HelpDesk, channel: WebChannel) -> None:
        self.desk = desk
        self.channel = channel
        self.limiter = IpLimiter(CHAT_POSTS, CHAT_WINDOW)
        self.new_chats = IpLimiter(desk.settings.helpdesk_web_new_chats_per_hour, HOUR)
        self.new_tickets = RecentTickets(desk.settings.helpdesk_web_tickets_per_hour)
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
        self.env.filters.update(pct=percent_text, hours=hours_text, local=local_time)
        self.env.globals.update(next_due=data.next_due, ops=OPS, states=STATES, code=code)
        self._cookies: Cookies | None = None

    @property
    def cookies(self) -> Cookies:
        """Cookie signing with the desk's key (known once the desk started)."""
        if self._cookies is None:
            self._cookies = Cookies(self.desk.secret_key, self.desk.settings.public_url.startswith("https:"))
        return self._cookies

    def routes(self) -> list[BaseRoute]:
        """Every web route."""
        return [
            Route("/", lambda r: RedirectResponse("/chat", 303)),
            Route("/chat", self.chat), Route("/chat/history", self.chat_history),
            Route("/chat/events", self.chat_events), Route("/chat/send", self.chat_send, methods=["POST"]),
            Route("/chat/upload", self.chat_upload, methods=["POST"]), Route("/files/{id}", self.file),
            Route("/chat/code", self.chat_code, methods=["POST"]),
            Route("/chat/redeem", self.chat_redeem, methods=["POST"]),
            Route("/chat/embed.js", self.embed_js),
            Route("/login", self.login, methods=["GET", "POST"]), Route("/logout", self.logout, methods=["POST"]),
            Route("/inbox", self.staff(self.inbox)), Route("/inbox/{id:int}", self.staff(self.ticket)),
            Route("/inbox/{id:int}", self.staff(self.ticket_action), methods=["POST"]),
            Route("/dashboard", self.staff(self.dashboard, "secretariat")),
            Route("/dashboard/charts", self.staff(self.charts, "secretariat")),
            Route("/dashboard/tickets", self.staff(self.tickets, "secretariat")),
            Route("/dashboard/experts", self.staff(self.experts, "secretariat")),
            Route("/dashboard/kb", self.staff(self.knowledge, "secretariat")),
            Route("/dashboard/people", self.staff(self.people, "secretariat")),
            Route("/dashboard/needs", self.staff(self.needs, "secretariat")),
            Route("/dashboard/needs.csv", self.staff(self.needs_export, "secretariat")),
            Route("/dashboard/sla.csv", self.staff(self.sla_export, "secretariat")),
            Route("/dashboard/tickets.csv", self.staff(self.tickets_export, "secretariat")),
            Route("/metrics", self.metrics),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]

    # --- rendering and guards ---

    def render(self, request: Request, name: str, status: int = 200, frame: bool = False, chat: str | None = None,
               **values: Any) -> Response:
        """A page with the browser's CSRF token in its forms, its words in its language (`chat`: a chat user the
        response gives the browser, whose token it is).

        A page that does not give `lang` (the chat does) is a staff page: the language of the viewer unless the
        switch (`?lang=`, remembered in a cookie) says otherwise; it shows the switch.
        """
        csrf, anonymous = self.cookies.csrf(request, chat)
        staff_page = "lang" not in values
        if staff_page:
            values.update(lang=self.staff_lang(request, values.get("viewer")), switch=language_links(request))
        html = self.env.get_template(name).render(request=request, csrf=csrf, _=translator(values["lang"]), **values)
        response = HTMLResponse(html, status)
        self.cookies.keep(response, anonymous)
        if staff_page and request.query_params.get("lang") == values["lang"]:
            response.set_cookie(STAFF_LANG, values["lang"], max_age=CHAT_AGE, httponly=True, samesite="lax")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"  # the sign-in page says no-referrer (its link's token)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; frame-ancestors " + ("*" if frame else "'none'"))
        return response

    @staticmethod
    def staff_lang(request: Request, viewer: Viewer | None) -> str:
        """The language of a staff page (see `render`)."""
        return staff_language(request, viewer.language if viewer else None)

    def error_page(self, request: Request, status: int, message: str, viewer: Viewer | None = None) -> Response:
        """An error page (401 not signed in, 403 not allowed, 404 not found)."""
        return self.render(request, "error.html", status, message=message, viewer=viewer)

    def invalid_page(self, request: Request, invalid: Invalid, viewer: Viewer | None = None) -> Response:
        """400: a number or date of the request out of range, said in the page's language."""
        detail = t(invalid.key, self.staff_lang(request, viewer), **invalid.values)
        return self.render(request, "error.html", 400, message="invalid", detail=detail, viewer=viewer)

    @staticmethod
    async def form(request: Request) -> FormData | None:
        """The request's form; None when it cannot be read (a part too large, too many fields, bad framing)."""
        try:
            return await request.form()
        except HTTPException:
            return None

    def may_post(self, request: Request, token: object) -> bool:
        """A state-changing request from this site's own page, with the browser's own CSRF token."""
        return same_origin(request, self.desk.settings.public_url) and self.cookies.csrf_ok(request, token)

    async def viewer(self, request: Request) -> Viewer | None:
        """The signed-in person, from the session cookie."""
        session = self.cookies.get(request, SESSION, SESSION_AGE)
        if not isinstance(session, dict) or not isinstance(session.get("p"), int) or not isinstance(session.get("s"),
                                                                                                    str):
            return None  # no session, or one from before sessions had an id (their CSRF tokens were not bound)
        async with self.desk.engine.connect() as conn:
            row = (await conn.execute(select(P.c.id, P.c.role, P.c.display_name, P.c.timezone, P.c.blocked,
                                             P.c.language).where(P.c.id == session["p"]))).first()
            user = (await conn.execute(select(I.c.external_user_id).where(
                I.c.channel == "web", I.c.person_id == session["p"]))).scalar()
            signed_out = (await conn.execute(select(table(AppSetting).c.value).where(
                table(AppSetting).c.key == f"{SIGNED_OUT}{session['p']}"))).scalar()
        if row is None or row.blocked or user is None:
            return None
        if signed_out is not None and float(session.get("t", 0)) <= float(signed_out):
            return None  # signed out since: a copied cookie is worthless
        return Viewer(row.id, row.role, row.display_name, row.timezone or "UTC", str(user), row.language or "en")

    def staff(self, page: Callable[[Request, Viewer], Awaitable[Response]], *roles: str) -> Handler:
        """A route for signed-in staff (experts and the secretariat, or only `roles`); POSTs need the CSRF token."""
        allowed = roles or STAFF_ROLES

        async def guarded(request: Request) -> Response:
            viewer = await self.viewer(request)
            if viewer is None:
                return self.error_page(request, 401, "signin")
            if viewer.role not in allowed:
                return self.error_page(request, 403, "forbidden", viewer)
            if request.method == "POST":
                form = await self.form(request)
                if form is None:
                    return self.invalid_page(request, Invalid("staff.invalid.form", {}), viewer)
                if not self.may_post(request, form.get("csrf")):
                    return self.error_page(request, 403, "csrf", viewer)
            try:
                return await page(request, viewer)
            except Invalid as invalid:
                return self.invalid_page(request, invalid, viewer)

        return guarded

    # --- practitioner chat ---

    def chat_user(self, request: Request) -> str | None:
        """The browser's web chat user id, from its signed cookie."""
        value = self.cookies.get(request, CHAT, CHAT_AGE)
        return value if isinstance(value, str) else None

    async def chat(self, request: Request) -> Response:
        lang = chat_language(request)
        user = self.chat_user(request)
        service = self.desk.config.service
        types, big = files.accepted_types(service), files.too_big(service)
        upload = {"accept": ",".join(f".{ext}" for ext in types), "max": service.max_attachment_bytes,
                  "hint": t("webchat.attach_hint", lang, types=", ".join(types), limit=service.max_attachment_mb),
                  "too_big": t(big.key, lang, **big.values)}
        new_user = None
        if user is None:
            wait = self.new_chats.retry_after(client_address(request))
            if wait:
                return self.refusal(request, 429, "new_chats", wait)
            new_user = f"w-{secrets.token_urlsafe(12)}"
        response = self.render(request, "chat.html", lang=lang, t=chat_texts(lang), languages=LANGUAGE_NAMES,
                               embed=request.query_params.get("embed") == "1", frame=True,
                               code=request.query_params.get("code"), upload=upload, chat=new_user,
                               max_text=MAX_TEXT)
        if new_user is not None:
            self.cookies.set(response, CHAT, new_user, CHAT_AGE)
        if request.query_params.get("lang") == lang:
            response.set_cookie("hd_lang", lang, max_age=CHAT_AGE, httponly=True, samesite="lax")
        return response

    async def chat_history(self, request: Request) -> Response:
        user = self.chat_user(request)
        if user is None:
            return JSONResponse([])
        async with self.desk.engine.connect() as conn:
            return JSONResponse(await data.chat_history(conn, user))

    async def chat_events(self, request: Request) -> Response:
        user = self.chat_user(request)
        if user is None:
            return PlainTextResponse("no chat", 403)
        queue = self.channel.subscribe(user)

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                while True:
                    try:
                        yield f"data: {await asyncio.wait_for(queue.get(), KEEPALIVE)}\n\n"
                    except TimeoutError:
                        yield ": keepalive\n\n"
            finally:
                self.channel.unsubscribe(user, queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @staticmethod
    def refusal(request: Request, status: int, key: str, wait: int = 0, **values: object) -> Response:
        """A chat refusal the page shows as a notice (`message`, in the page's language); `wait`: Retry-After."""
        text = t(f"webchat.refusal.{key}", chat_language(request), seconds=wait, **values)
        headers = {"Retry-After": str(wait)} if wait else None
        if request.method != "POST":  # the chat page itself (GET, HEAD)
            return PlainTextResponse(text, status, headers=headers)
        return JSONResponse({"error": key, "message": text}, status, headers=headers)

    async def chat_checked(self, request: Request) -> tuple[str, FormData] | Response:
        """The chat user and form of a chat POST, or the refusal (429, 413, 403)."""
        address = client_address(request)
        wait = self.limiter.retry_after(address)
        if wait:
            return self.refusal(request, 429, "too_many", wait)
        form = await self.form(request)
        if form is None:
            return self.refusal(request, 413, "too_large")
        user = self.chat_user(request)
        if user is None or not self.may_post(request, request.headers.get("x-csrf-token") or form.get("csrf")):
            return self.refusal(request, 403, "expired")
        if self.new_tickets.full(address):
            async with self.desk.engine.connect() as conn:
                if not await data.has_open_ticket(conn, user):  # this message could open one more
                    return self.refusal(request, 429, "tickets", int(HOUR))
        return user, form

    async def chat_submit(self, request: Request, user: str, text: str, action: str | None = None,
                          attachments: tuple[Attachment, ...] = ()) -> Outcome:
        """A browser's chat message, through the message path like every channel's; the tickets it opened count
        against its address."""
        started = self.desk.clock.now()
        outcome = await self.desk.submit(IncomingMessage(
            channel="web", external_id=secrets.token_hex(12), user_id=user, chat_id=user, text=text,
            action=action[:64] if action else None, language=chosen_language(request),
            user_name=f"Web visitor {user[-4:]}", attachments=attachments))
        async with self.desk.engine.connect() as conn:
            self.new_tickets.add(client_address(request), await data.tickets_opened_since(conn, user, started))
        return outcome

    async def chat_send(self, request: Request) -> Response:
        checked = await self.chat_checked(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        text, action = str(form.get("text") or "").strip(), form.get("action")
        if not text and not action:
            return self.refusal(request, 400, "empty")
        if len(text) > MAX_TEXT:  # refused whole, never cut without a word
            return self.refusal(request, 413, "too_long", limit=MAX_TEXT)
        outcome = await self.chat_submit(request, user, text, str(action) if action else None)
        # The answer to a button press (outcome.notice, a toast on Telegram) is also a post: it comes by the stream.
        return JSONResponse({"id": f"in-{outcome.message_id}"}, 202)

    async def chat_upload(self, request: Request) -> Response:
        """A file with an optional caption: checked, stored, then sent as one chat message carrying it.

        Refusals say why in the page's language (`message`): 413 too big, 415 a type not taken, 400 no file.
        """
        assert self.desk.services is not None and self.desk.services.files is not None
        store, service, lang = self.desk.services.files, self.desk.config.service, chat_language(request)

        def refused(refusal: files.Refusal, status: int) -> Response:
            return JSONResponse({"error": refusal.key, "message": t(refusal.key, lang, **refusal.values)}, status)

        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > service.max_attachment_bytes + UPLOAD_SLACK:
            return refused(files.too_big(service), 413)  # before reading it
        checked = await self.chat_checked(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        upload, caption = form.get("file"), str(form.get("text") or "").strip()
        if not isinstance(upload, UploadFile) or not upload.filename:
            return refused(files.Refusal("webchat.no_file"), 400)
        if len(caption) > MAX_TEXT:
            return self.refusal(request, 413, "too_long", limit=MAX_TEXT)
        name = files.clean_name(upload.filename)
        data = await upload.read(service.max_attachment_bytes + 1)
        verdict = files.check(name, data, service)
        if isinstance(verdict, files.Refusal):
            return refused(verdict, 413 if verdict.key == files.too_big(service).key else 415)
        sha256 = await asyncio.to_thread(store.put, data)
        file_id = secrets.token_urlsafe(16)
        attachment = Attachment("photo" if verdict.startswith("image/") else "document", file_id, name, len(data),
                                verdict, "web", self.desk.settings.public_url + file_url(file_id), sha256)
        outcome = await self.chat_submit(request, user, caption, None, (attachment,))
        return JSONResponse({"id": f"in-{outcome.message_id}", "files": file_items([attachment])}, 202)

    async def file(self, request: Request) -> Response:
        """A web chat upload, for the practitioner who sent it and the staff who may see its ticket.

        Nobody recognised (no chat, no session): 403; anyone else, or a file that is gone: 404.
        """
        assert self.desk.services is not None and self.desk.services.files is not None
        viewer, user = await self.viewer(request), self.chat_user(request)
        if viewer is None and user is None:
            return self.error_page(request, 403, "forbidden")
        async with self.desk.engine.connect() as conn:
            found = await files.find(conn, str(request.path_params["id"]))
            allowed = found is not None and await self.may_download(conn, found, viewer, user)
        if found is None or not allowed:
            return self.error_page(request, 404, "notfound", viewer)
        sha256, mime = found.sha256, found.mime
        if not sha256 and found.source_channel:  # relayed from a chat platform: fetched on the first download
            sha256, mime = await self.fetch_relayed(found)
        if not sha256 or not (path := self.desk.services.files.path(sha256)).is_file():
            return self.error_page(request, 404, "notfound", viewer)
        return FileResponse(path, media_type=mime, filename=found.name, content_disposition_type="attachment",
                            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
                                     "Content-Security-Policy": "default-src 'none'; sandbox"})

    async def fetch_relayed(self, found: Any) -> tuple[str, str]:
        """The SHA-256 and checked type of a relayed file's bytes, fetched now from its platform ("" when that
        fails)."""
        assert self.desk.services is not None and self.desk.services.files is not None
        download = getattr(self.desk.channels.get(found.source_channel), "download", None)
        if download is None:
            log.warning("file %s: the %s channel is not running here", found.id, found.source_channel)
            return "", ""
        try:
            async with self.desk.engine.begin() as conn:
                return await files.fetch_relayed(conn, self.desk.services.files, found, download,
                                                 self.desk.config.service)
        except files.FetchError as exc:
            log.warning("%s", exc)
            return "", ""

    @staticmethod
    async def may_download(conn: AsyncConnection, found: Any, viewer: Viewer | None, user: str | None) -> bool:
        """The uploader (by chat cookie or session), the practitioner of the file's ticket when it was sent to them
        (not in an internal note), the secretariat, or an expert who may see the ticket."""
        owners: set[int | None] = {viewer.id} if viewer else set()
        if user is not None:
            owners.add((await conn.execute(select(I.c.person_id).where(
                I.c.channel == "web", I.c.external_user_id == user))).scalar())
        sent_to = found.ticket_person_id if not found.internal else None  # the practitioner it was sent to
        if found.person_id in owners or (sent_to is not None and sent_to in owners):
            return True
        if viewer is None or viewer.role not in STAFF_ROLES:
            return False
        scope = await data.scope_of(conn, viewer.id, viewer.role)
        ticket = (await conn.execute(select(T.c.queue_id, T.c.assignee_id).where(T.c.id == found.ticket_id))).first()
        return scope.queues is None or (ticket is not None and scope.allows(ticket))

    async def chat_code(self, request: Request) -> Response:
        """A one-time code that opens this conversation on another device (reuses link codes)."""
        checked = await self.chat_checked(request)
        if isinstance(checked, Response):
            return checked
        now = self.desk.clock.now()
        async with self.desk.engine.begin() as conn:
            person = (await conn.execute(select(I.c.person_id).where(
                I.c.channel == "web", I.c.external_user_id == checked[0]))).scalar()
            if person is None:
                return self.refusal(request, 400, "first_message")
            return JSONResponse({"code": await linking.new_code(conn, person, now)})

    async def chat_redeem(self, request: Request) -> Response:
        """Continue a practitioner's conversation in this browser."""
        checked = await self.chat_checked(request)
        if isinstance(checked, Response):
            return checked
        now = self.desk.clock.now()
        async with self.desk.engine.begin() as conn:
            owner = await linking.redeem_code(conn, str(checked[1].get("code") or ""), now)
            role = owner and (await conn.execute(select(P.c.role).where(P.c.id == owner))).scalar()
            user = await web_identity(conn, owner, now) if owner and role == "practitioner" else None
        response = RedirectResponse("/chat" if user else "/chat?code=bad", 303)
        if user:
            self.cookies.set(response, CHAT, user, CHAT_AGE)
        return response

    async def embed_js(self, request: Request) -> Response:
        base = self.desk.settings.public_url
        return Response(self.env.get_template("embed.js").render(base=base), media_type="text/javascript")

    # --- login ---

    async def login(self, request: Request) -> Response:
        """GET shows a sign-in button for the link's token (link previews must not use it up); POST signs in."""
        if request.method != "POST":  # GET, or HEAD
            page = self.render(request, "login.html", token=request.query_params.get("token", ""),
                               viewer=await self.viewer(request))
            page.headers["Referrer-Policy"] = "no-referrer"  # the token in its address never leaves in a Referer
            return page
        form = await self.form(request)
        if form is None or not self.may_post(request, form.get("csrf")):
            return self.error_page(request, 403, "csrf")
        now = self.desk.clock.now()
        async with self.desk.engine.begin() as conn:
            person = await redeem_login_token(conn, str(form.get("token") or ""), now)
            if person is not None:
                await web_identity(conn, person, now)
                role = (await conn.execute(select(P.c.role).where(P.c.id == person))).scalar()
        if person is None:
            return self.error_page(request, 403, "badlink")
        response = RedirectResponse("/dashboard" if role == "secretariat" else "/inbox", 303)
        session = {"p": person, "t": time.time(), "s": secrets.token_urlsafe(24)}  # s: what its CSRF token binds
        self.cookies.set(response, SESSION, session, SESSION_AGE)
        return response

    async def logout(self, request: Request) -> Response:
        form = await self.form(request)
        if form is None or not self.may_post(request, form.get("csrf")):
            return self.error_page(request, 403, "csrf")
        session = self.cookies.get(request, SESSION, SESSION_AGE)
        if isinstance(session, dict) and isinstance(session.get("p"), int):
            async with self.desk.engine.begin() as conn:  # every session of this person issued before now ends
                await upsert(conn, table(AppSetting), [{"key": f"{SIGNED_OUT}{session['p']}",
                                                        "value": repr(time.time())}], ["key"])
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION)
        return response

    # --- expert inbox ---

    async def inbox(self, request: Request, viewer: Viewer) -> Response:
        async with self.desk.engine.connect() as conn:
            scope = await data.scope_of(conn, viewer.id, viewer.role)
            waiting, mine = await data.inbox(conn, scope)
        return self.render(request, "inbox.html", viewer=viewer, scope=scope, waiting=waiting, mine=mine)

    async def ticket(self, request: Request, viewer: Viewer) -> Response:
        ticket_id = int(request.path_params["id"])
        after = request.query_params.get("after", "")
        since = whole_number("after", after, 0, MAX_ID) if after else None
        if not in_id_range(ticket_id):
            return self.error_page(request, 404, "notfound", viewer)
        async with self.desk.engine.connect() as conn:
            scope = await data.scope_of(conn, viewer.id, viewer.role)
            found = await data.ticket_page(conn, ticket_id)
            answers = await data.bot_answers(conn, viewer.web_user, since) if since is not None else []
        if found is None or not scope.allows(found[0]):
            return self.error_page(request, 404, "notfound", viewer)
        ticket, person, assignee, thread = found
        return self.render(request, "ticket.html", viewer=viewer, ticket=ticket, person=person, assignee=assignee,
                           thread=thread, answers=answers, queues=self.desk.config.queue_ids,
                           open=ticket.state in OPEN_STATES)

    async def ticket_action(self, request: Request, viewer: Viewer) -> Response:
        """Claim, release, transfer, resolve, reply or note: the chat command, sent through the message path."""
        ticket_id = int(request.path_params["id"])
        form = await request.form()
        op = str(form.get("op") or "")
        if op not in OPS:
            return self.error_page(request, 400, "badop", viewer)
        words = [str(form.get(k) or "").strip() for k in ("target", "text")]
        command = " ".join(w for w in (f"/{op}", str(ticket_id), *words) if w)
        if len(command) > MAX_TEXT:
            raise Invalid("staff.invalid.too_long", {"limit": MAX_TEXT})
        async with self.desk.engine.connect() as conn:
            place = await data.ticket_place(conn, ticket_id) if in_id_range(ticket_id) else None
            if place is None or not (await data.scope_of(conn, viewer.id, viewer.role)).allows(place):
                return self.error_page(request, 404, "notfound", viewer)  # another queue's ticket: as for none
            before = await data.last_outbox_id(conn)
        await self.desk.submit(IncomingMessage(channel="web", external_id=secrets.token_hex(12),
                                               user_id=viewer.web_user, chat_id=viewer.web_user,
                                               text=command, user_name=viewer.name))
        return RedirectResponse(f"/inbox/{ticket_id}?after={before}", 303)

    # --- secretariat dashboard ---

    async def dashboard(self, request: Request, viewer: Viewer) -> Response:
        assert self.desk.services is not None
        async with self.desk.engine.connect() as conn:
            figures = await data.overview(conn, self.desk.config, self.desk.services.sla, self.desk.clock.now())
        return self.render(request, "dashboard.html", viewer=viewer, rows=data.compliance_rows(figures["report"]),
                           **figures)

    async def charts(self, request: Request, viewer: Viewer) -> Response:
        assert self.desk.services is not None
        async with self.desk.engine.connect() as conn:
            d = await data.chart_data(conn, self.desk.config, self.desk.services.sla, self.desk.clock.now())
        lang = self.staff_lang(request, viewer)
        trend = {t("staff.charts.first_response", lang): d["trend"]["first_response"],
                 t("staff.charts.resolution", lang): d["trend"]["resolution"]}
        rates = {t("staff.charts.deflected", lang): d["rates"]["deflected"],
                 t("staff.charts.false_deflection", lang): d["rates"]["false_deflection"]}
        figures = [
            charts.stacked_bars(t("staff.charts.per_week", lang), d["labels"], d["per_queue"]),
            charts.lines(t("staff.charts.compliance", lang), d["labels"], trend, d["target"],
                         target_label=t("staff.charts.target", lang)),
            charts.hbars(t("staff.charts.spread", lang, weeks=data.WEEKS), d["spread"]),
            charts.lines(t("staff.charts.deflection", lang), d["labels"], rates),
            charts.hbars(t("staff.charts.top", lang, weeks=data.WEEKS), d["top"]),
        ]
        return self.render(request, "charts.html", viewer=viewer, figures=figures)

    def filters(self, request: Request) -> data.TicketFilter:
        """The ticket list's filters from the query string."""
        q = request.query_params
        return data.TicketFilter(queue=q.get("queue", "") if q.get("queue") in self.desk.config.queue_ids else "",
                                 state=q.get("state", "") if q.get("state") in STATES else "",
                                 search=q.get("q", "")[:200],
                                 page=whole_number("page", q.get("page") or "1", 1, MAX_PAGE))

    async def tickets(self, request: Request, viewer: Viewer) -> Response:
        filters = self.filters(request)
        async with self.desk.engine.connect() as conn:
            rows, total = await data.ticket_list(conn, filters)
        return self.render(request, "tickets.html", viewer=viewer, rows=rows, total=total, filters=filters,
                           queues=self.desk.config.queue_ids, pages=(total + data.PAGE - 1) // data.PAGE)

    async def experts(self, request: Request, viewer: Viewer) -> Response:
        async with self.desk.engine.connect() as conn:
            people = await data.experts(conn, self.desk.clock.now())
        return self.render(request, "experts.html", viewer=viewer, people=people)

    async def knowledge(self, request: Request, viewer: Viewer) -> Response:
        """Drafts to review, gaps, use of each entry and stale entries."""
        assert self.desk.services is not None
        entries = list(self.desk.services.kb.entries.values())
        async with self.desk.engine.connect() as conn:
            drafts = list(await conn.execute(select(table(KBDraft)).where(table(KBDraft).c.status == "pending")
                                             .order_by(table(KBDraft).c.id)))
            stats = await entry_stats(conn, [e.id for e in entries])
            clusters = await gaps(conn)
            applied = await outcome_report(conn)
        stale = stale_entries(entries, self.desk.clock.now().date())
        return self.render(request, "kb.html", viewer=viewer, drafts=drafts, stats=stats, gaps=clusters[:20],
                           stale=stale, applied=applied,
                           applied_chart=learning.applied_chart(applied, self.staff_lang(request, viewer)))

    async def people(self, request: Request, viewer: Viewer) -> Response:
        """Practitioners by country, institution and sector."""
        async with self.desk.engine.connect() as conn:
            groups = await data.practitioners(conn)
        return self.render(request, "people.html", viewer=viewer, groups=groups)

    async def needs(self, request: Request, viewer: Viewer) -> Response:
        """The needs report of a period, with charts (docs/learning.md)."""
        report = await self.needs_of(request)
        if report is None:  # the page again, empty, saying what is wrong with the period
            return self.render(request, "needs.html", 400, viewer=viewer, report=NeedsReport(None, None), figures=[],
                               bad_period=True)
        return self.render(request, "needs.html", viewer=viewer, report=report,
                           figures=learning.needs_charts(report, self.staff_lang(request, viewer)))

    async def needs_export(self, request: Request, viewer: Viewer) -> Response:
        """The CSV of `helpdesk report needs --format csv` (same parameters: since, until)."""
        report = await self.needs_of(request)
        if report is None:
            return PlainTextResponse("since/until: YYYY-MM-DD, until not before since", 400)
        return csv_response(needs_csv(report), "needs.csv")

    async def needs_of(self, request: Request) -> NeedsReport | None:
        """The needs report of the period the query string gives (None: not a valid period)."""
        assert self.desk.services is not None
        span = learning.period(request)
        if span is None:
            return None
        async with self.desk.engine.connect() as conn:
            return await needs_report(conn, *span, faq_answers(self.desk.services.kb))

    async def sla_export(self, request: Request, viewer: Viewer) -> Response:
        """The CSV of `helpdesk report sla --format csv` (same parameters: since, until, queue)."""
        assert self.desk.services is not None
        q = request.query_params
        since, until = day("since", q.get("since", "")), day("until", q.get("until", ""))
        if since and until and since > until:
            raise Invalid("staff.invalid.period", {})
        queue = (q.get("queue") or "").upper() or None
        if queue is not None and queue not in self.desk.config.queue_ids:
            raise Invalid("staff.invalid.queue", {"queue": queue[:40]})
        async with self.desk.engine.connect() as conn:
            report = await sla_report(conn, self.desk.config, self.desk.services.sla, self.desk.clock.now(),
                                      since, until, queue)
        return csv_response(sla_csv(report), "sla.csv")

    async def tickets_export(self, request: Request, viewer: Viewer) -> Response:
        """The filtered ticket list as CSV (every match, not one page)."""
        async with self.desk.engine.connect() as conn:
            rows, _ = await data.ticket_list(conn, self.filters(request), limit=None)
        return csv_response(data.tickets_csv(rows), "tickets.csv")

    async def metrics(self, request: Request) -> Response:
        async with self.desk.engine.connect() as conn:
            body = await metrics_text(conn, self.desk.clock.now())
        return Response(body + self.desk.instruments.text(), media_type="text/plain; version=0.0.4; charset=utf-8")


def csv_response(text: str, filename: str) -> Response:
    """A CSV download."""
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def web_routes(desk: HelpDesk) -> list[BaseRoute]:
    """The web routes of a desk whose channels include the web chat."""
    channel = desk.channels.get("web")
    if not isinstance(channel, WebChannel):
        channel = WebChannel()
        desk.channels["web"] = channel
    return WebApp(desk, channel).routes()
