"""Composition root: `build_app(settings)` wires everything; nothing connects until `start()`."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.channels.factory import build_channels
from bot.clock import Clock, SystemClock
from bot.config import ServiceConfig, load_config
from bot.core.actions import ActionSigner
from bot.core.calendar_changes import VERSION_KEY, follow_config_calendars
from bot.core.closed_days import closed_days_by_queue
from bot.core.files import FileStore
from bot.core.knowledge import KnowledgeBase, MatcherFactory, kb_version, load_entries
from bot.core.messages import IncomingMessage
from bot.core.outbox import ChannelSender, OutboxDrainer
from bot.core.pipeline import Outcome, Pipeline
from bot.core.ratelimit import InboundLimiter
from bot.core.reachability import record_reachability
from bot.core.services import Services
from bot.core.sla import SlaClock
from bot.db import migrate
from bot.db.driver import upsert
from bot.db.engine import DatabaseUnavailable, create_engine, safe_url
from bot.db.models import AppSetting, Person, Queue, QueueMember, table
from bot.db.sql import insert_ignore
from bot.i18n import load_catalogs
from bot.instruments import Instruments
from bot.scheduler import SlaScheduler
from bot.settings import Settings
from handlers import build_router
from kb.matcher import Matcher
from kb.semantic import SemanticReranker

log = logging.getLogger(__name__)
S = table(AppSetting)
SERVED_URL = "served_url"  # app setting: the address of the most recently started HTTP server
P = table(Person)
Q = table(Queue)
QM = table(QueueMember)


class HelpDesk:
    """The running help desk: database, message path, outbox and channels."""

    def __init__(self, settings: Settings, config: ServiceConfig, engine: AsyncEngine, clock: Clock,
                 channels: Mapping[str, ChannelSender], workers: int) -> None:
        self.settings = settings
        self.config = config
        self.engine = engine
        self.clock = clock
        self.channels = dict(channels)
        self.router = build_router()
        self.workers = workers
        self.services: Services | None = None
        self.pipeline: Pipeline | None = None
        self.drainer: OutboxDrainer | None = None
        self.scheduler: SlaScheduler | None = None
        self._kb_version = ""
        self.instruments = Instruments()
        self.secret_key = b""  # signs buttons, web sessions and login links; set by start()

    async def check_database(self) -> None:
        """Fail with a clear DatabaseUnavailable when the database cannot be used."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OSError, OperationalError, DBAPIError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise DatabaseUnavailable(f"cannot connect to {safe_url(str(self.engine.url))}: {reason}") from None
        if not await migrate.is_current(self.engine):
            raise DatabaseUnavailable("the database schema is not current: run `helpdesk db upgrade`")

    async def start(self, *, drain: bool = True) -> None:
        """Connect, sync the config into the database, load the KB, start the workers.

        With `drain` the background jobs run too: the outbox drainer and the SLA scheduler.
        """
        await self.check_database()
        load_catalogs()
        async with self.engine.begin() as conn:
            key = self.secret_key = await self._signing_key(conn)
            await sync_config(conn, self.config, self.clock)
            entries = await load_entries(conn)
            self._kb_version = await kb_version(conn)
            moved = await follow_config_calendars(conn, self.config, self.clock.now())
            closed = await closed_days_by_queue(conn)
            calendars = (await conn.execute(select(S.c.value).where(S.c.key == VERSION_KEY))).scalar() or ""
        if moved:
            log.info("the config's calendars changed: deadlines of %d open ticket(s) moved", moved)
        self.services = Services(config=self.config, clock=self.clock, signer=ActionSigner(key),
                                 kb=KnowledgeBase(entries, self.config, matcher_factory(self.settings)),
                                 sla=SlaClock(self.config, closed),
                                 limiter=InboundLimiter(self.config.service.messages_per_minute),
                                 web_url=self.settings.public_url,
                                 files=FileStore(self.settings.helpdesk_files_dir), calendar_version=calendars)
        self.drainer = OutboxDrainer(self.engine, self.channels, self.clock,
                                     on_delivery=partial(record_reachability, self.services),
                                     lease=timedelta(seconds=self.settings.outbox_lease_seconds),
                                     instruments=self.instruments)
        self.pipeline = Pipeline(self.engine, self.services, self.router, workers=self.workers,
                                 drainer=self.drainer, instruments=self.instruments)
        await self.pipeline.start()
        self.scheduler = SlaScheduler(self.engine, self.services, self.config.service_levels.sweep_seconds,
                                      on_commit=self.drainer.wake,
                                      on_minute=partial(self.reload_kb, only_if_changed=True))
        if drain:
            await self.drainer.start()
            self.scheduler.start()

    async def stop(self) -> None:
        """Finish in-flight messages, stop sending, close the database."""
        if self.pipeline is not None:
            await self.pipeline.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.drainer is not None:
            await self.drainer.stop()
        await self.engine.dispose()

    async def submit(self, msg: IncomingMessage) -> Outcome:
        """Run one inbound message through the message path."""
        if self.pipeline is None:
            raise RuntimeError("the help desk is not started")
        return await self.pipeline.submit(msg)

    async def sync_config(self) -> list[str]:
        """Mirror the config's queues, members and staff roles into the database again; the staff handles
        that became people just now."""
        async with self.engine.begin() as conn:
            return await sync_config(conn, self.config, self.clock)

    async def served_at(self) -> None:
        """Record the address this process's HTTP server is reached at: login links printed from another
        shell (`helpdesk users login-link`) point at it, whatever port this one was given."""
        async with self.engine.begin() as conn:
            await upsert(conn, S, [{"key": SERVED_URL, "value": self.settings.public_url}], ["key"])

    async def links_base(self, conn: AsyncConnection) -> str:
        """Where links the bot prints point: HELPDESK_PUBLIC_URL when set, else the running help desk's address
        (`served_at`), else this process's own host and port."""
        if self.settings.helpdesk_public_url:
            return self.settings.public_url
        served = (await conn.execute(select(S.c.value).where(S.c.key == SERVED_URL))).scalar()
        return str(served) if served else self.settings.public_url

    async def reload_kb(self, only_if_changed: bool = False) -> bool:
        """Rebuild the matcher from the entries now in the database (when they changed, if asked)."""
        assert self.services is not None
        async with self.engine.connect() as conn:
            version = await kb_version(conn)
            if only_if_changed and version == self._kb_version:
                return False
            entries = await load_entries(conn)
        self.services.kb = self.services.kb.rebuilt(entries)
        self._kb_version = version
        return True

    async def _signing_key(self, conn: AsyncConnection) -> bytes:
        if self.settings.helpdesk_secret_key is not None:
            return self.settings.helpdesk_secret_key.get_secret_value().encode()
        found = (await conn.execute(select(S.c.value).where(S.c.key == "signing_key"))).scalar()
        if found is None:  # the first start; a replica starting at the same moment may win, and its key counts
            key = secrets.token_urlsafe(32)
            await conn.execute(insert_ignore(conn, S, ["key"]).values(key="signing_key", value=key))
            found = (await conn.execute(select(S.c.value).where(S.c.key == "signing_key"))).scalar_one()
        return str(found).encode()


async def sync_config(conn: AsyncConnection, config: ServiceConfig, clock: Clock) -> list[str]:
    """Mirror queues, memberships and staff roles from the config into the database; the staff handles that
    became people just now.

    Every expert, lead and secretariat member the config names is a person (with no channel identity until
    they first write, or `/as expert:NAME` in the console), so login links and `/assign` work for them at
    once. Replicas starting at once on a new database do this concurrently: inserts skip rows another one made.
    """
    existing = {r.id for r in await conn.execute(select(Q.c.id))}
    for q in config.queues:
        if q.id in existing:
            await conn.execute(update(Q).where(Q.c.id == q.id).values(name=q.name, auto_assign=q.auto_assign))
        else:
            await conn.execute(insert_ignore(conn, Q, ["id"]).values(id=q.id, name=q.name, auto_assign=q.auto_assign))
    handles = config.staff_handles
    known = {r.handle for r in await conn.execute(select(P.c.handle).where(P.c.handle.in_(handles)))}
    created = sorted(handles - known)
    for handle in created:
        await conn.execute(insert_ignore(conn, P, ["handle"]).values(
            handle=handle, display_name=handle.title(), language=config.service.default_language, timezone="UTC",
            role="secretariat" if handle in config.service.secretariat else "expert", blocked=False,
            created_at=clock.now()))
    people = {r.handle: (r.id, r.role) for r in await conn.execute(
        select(P.c.handle, P.c.id, P.c.role).where(P.c.handle.in_(handles)))}
    for handle, (person_id, role) in people.items():
        wanted = "secretariat" if handle in config.service.secretariat else "expert"
        if role != wanted and role != "secretariat":
            await conn.execute(update(P).where(P.c.id == person_id).values(role=wanted))
    members = {(r.queue_id, r.person_id): r.is_lead for r in await conn.execute(select(QM))}
    for q in config.queues:
        for handle in dict.fromkeys((*q.experts, *q.leads)):
            key = (q.id, people[handle][0])
            lead = handle in q.leads
            if key not in members:
                await conn.execute(insert_ignore(conn, QM, ["queue_id", "person_id"]).values(
                    queue_id=q.id, person_id=key[1], is_lead=lead))
            elif members[key] != lead:
                await conn.execute(update(QM).where(QM.c.queue_id == q.id, QM.c.person_id == key[1])
                                   .values(is_lead=lead))

    return created

def matcher_factory(settings: Settings) -> MatcherFactory:
    """The hybrid matcher, or the semantic re-ranker of the `semantic` extra when its weight is set."""
    if not settings.helpdesk_semantic_weight:
        return Matcher
    from bot.semantic_model import load_embedder  # the optional extra: imported only when asked for

    embed, weight = load_embedder(), settings.helpdesk_semantic_weight
    return lambda entries: SemanticReranker(entries, embed, weight)


def build_app(settings: Settings, *, clock: Clock | None = None,
              channels: Mapping[str, ChannelSender] | None = None, config: ServiceConfig | None = None,
              ) -> HelpDesk:
    """Wire the help desk from settings. Reads the config file; connects to nothing yet."""
    config = config or load_config(Path(settings.helpdesk_config) if settings.helpdesk_config else None)
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    channels = build_channels(settings) if channels is None else channels
    return HelpDesk(settings, config, engine, clock or SystemClock(), channels, settings.pipeline_workers)
