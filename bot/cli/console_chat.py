"""`helpdesk console`: talk to the help desk in the terminal, as a practitioner, expert or secretariat."""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import sys

from sqlalchemy import insert, select, update

from bot.app import HelpDesk
from bot.channels.console import ConsoleChannel
from bot.cli.common import console
from bot.core.messages import IncomingMessage
from bot.db.models import Identity, Person, table

log = logging.getLogger(__name__)
P = table(Person)
I = table(Identity)  # noqa: E741
PRACTITIONER = "pat"  # the practitioner at the keyboard until /as says otherwise

BANNER = """Local help desk console. Type a question as a practitioner.
  /as expert:NAME    act as an expert (e.g. /as expert:amina — the config lists queues per expert)
  /as secretariat    act as the secretariat (sam)
  /as practitioner[:NAME]   back to a practitioner (shows the buttons waiting for them, e.g. to rate an answer)
  a number           press that button (the choices under the latest replies)
  /quit              leave"""


class ConsoleSession:
    """Who the person at the keyboard currently is."""

    def __init__(self, app: HelpDesk, channel: ConsoleChannel) -> None:
        self.app = app
        self.channel = channel
        self.user = PRACTITIONER
        channel.viewer = self.user
        self._ids = itertools.count(1)

    async def become(self, spec: str) -> str:
        """Switch identity: 'expert:amina', 'secretariat', 'practitioner:bob'."""
        role, _, name = spec.partition(":")
        role = role.strip().lower()
        if role not in ("expert", "secretariat", "practitioner"):
            return "usage: /as expert:NAME | /as secretariat | /as practitioner[:NAME]"
        name = (name.strip().lower() or {"secretariat": "sam", "practitioner": PRACTITIONER}.get(role, "")).strip()
        if not name:
            return "usage: /as expert:NAME"
        await ensure_console_person(self.app, name, role)
        self.user = self.channel.viewer = name
        self.channel.new_burst()
        return f"Now at the keyboard: {name} ({role})."

    def incoming(self, text: str = "", action: str | None = None) -> IncomingMessage:
        return IncomingMessage(channel="console", external_id=f"console-{self.user}-{next(self._ids)}-"
                               f"{self.app.clock.now().timestamp()}", user_id=self.user,
                               chat_id=f"dm:{self.user}", text=text, action=action,
                               user_name=self.user.title())


async def ensure_console_person(app: HelpDesk, name: str, role: str) -> None:
    """Create (or re-role) a console person; staff get their config queues. Console is local and trusted."""
    now = app.clock.now()
    async with app.engine.begin() as conn:
        pid = (await conn.execute(select(I.c.person_id).where(I.c.channel == "console",
                                                               I.c.external_user_id == name))).scalar()
        if pid is None:
            pid = (await conn.execute(select(P.c.id).where(P.c.handle == name))).scalar()
        if pid is None:
            pid = (await conn.execute(insert(P).values(
                handle=name if role != "practitioner" else None, display_name=name.title(), role=role,
                language=app.config.service.default_language, timezone="UTC", blocked=False,
                created_at=now).returning(P.c.id))).scalar_one()
        elif role != "practitioner":
            await conn.execute(update(P).where(P.c.id == pid).values(role=role, handle=name))
        known = (await conn.execute(select(I.c.id).where(I.c.channel == "console",
                                                          I.c.external_user_id == name))).scalar()
        if known is None:
            await conn.execute(insert(I).values(person_id=pid, channel="console", external_user_id=name,
                                                chat_id=f"dm:{name}", created_at=now))
    await app.sync_config()


async def chat_with_web(app: HelpDesk, channel: ConsoleChannel) -> None:
    """The console chat, with the HTTP server (web chat, inbox, dashboard) when its port is free."""
    from bot.core.login import staff_login_url
    from bot.http import HttpServer, create_http_app
    from bot.web.app import web_routes

    settings = app.settings
    web = HttpServer(create_http_app(app, web_routes(app)), settings.helpdesk_http_host,
                     settings.helpdesk_http_port, settings.trusted_proxies)
    server: HttpServer | None = web
    try:
        await web.start()
    except OSError as exc:
        console.print(f"web pages off: cannot listen on {settings.helpdesk_http_host}:{settings.helpdesk_http_port}"
                      f" ({exc.strerror}); set HELPDESK_HTTP_PORT", markup=False)
        server = None
    if server is not None:
        await app.served_at()
        async with app.engine.connect() as conn:
            handle = (await conn.execute(select(P.c.handle).where(P.c.role == "secretariat", P.c.handle.is_not(None))
                                         .order_by(P.c.id))).scalar()
        if handle is None:
            handle = "sam"
            await ensure_console_person(app, handle, "secretariat")
        async with app.engine.begin() as conn:
            link = await staff_login_url(conn, handle, app.clock.now(), settings.public_url)
        console.print(f"Web chat:  {settings.public_url}/chat\nDashboard: {link}  (one-time login for {handle}, "
                      "15 minutes; `helpdesk users login-link HANDLE` makes another)", markup=False, soft_wrap=True)
    try:
        await chat_loop(app, channel)
    finally:
        if server is not None:
            await server.stop()


async def chat_loop(app: HelpDesk, channel: ConsoleChannel) -> None:
    """Read lines until /quit or end of input. Any bytes are read (invalid UTF-8 becomes U+FFFD) and a message
    the help desk cannot take is reported, not fatal."""
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")
    session = ConsoleSession(app, channel)
    console.print(BANNER, markup=False)
    while True:
        try:
            line = await asyncio.to_thread(input, f"\n[{session.user}] > ")
        except (EOFError, KeyboardInterrupt):
            return
        line = line.strip()
        if line in ("/quit", "/exit"):
            return
        if line.startswith("/as"):
            console.print(await session.become(line[3:].strip()), markup=False)
            if channel.show_waiting(session.user):
                console.print("(the choices above are waiting for you: type a number)", markup=False)
            continue
        if line.isascii() and line.isdigit() and channel.buttons:  # '²' is a digit to isdigit(), not to int()
            index = int(line) - 1
            if not 0 <= index < len(channel.buttons):
                console.print(f"pick 1-{len(channel.buttons)}", markup=False)
                continue
            msg = session.incoming(action=channel.buttons[index].action)
        else:
            msg = session.incoming(text=line)
        channel.new_burst()
        try:
            await app.submit(msg)
        except Exception as exc:  # e.g. the database is down: this message is lost, the console goes on
            log.warning("console message not handled", exc_info=True)
            console.print(f"not sent: {exc}", markup=False)
            continue
        await asyncio.sleep(0.2)  # let the drainer print the replies before the next prompt
