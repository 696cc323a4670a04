"""A help desk on in-memory channels with a fake clock: dialogue tests read like transcripts."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, update

from bot.app import HelpDesk, build_app
from bot.channels.memory import MemoryChannel, Post
from bot.clock import FakeClock
from bot.config import ServiceConfig, load_config
from bot.core.knowledge import import_entries
from bot.core.messages import IncomingMessage
from bot.core.pipeline import Outcome
from bot.db import migrate
from bot.db.models import Identity, Person, table
from bot.settings import Settings
from kb.files import load_kb_dir

KB_DIR = Path(__file__).resolve().parents[1] / "kb" / "content"
_ids = itertools.count(1)


@dataclass
class Actor:
    """Someone in a chat: says things, presses buttons, sees replies."""

    desk: Desk
    name: str
    channel: str
    chat_id: str
    lang: str | None = None
    chat_type: str = "private"
    seen: int = 0
    last_outcome: Outcome | None = None

    @property
    def posts(self) -> list[Post]:
        """Everything posted in this actor's chat."""
        return self.desk.channel(self.channel).posts[self.chat_id]

    async def says(self, text: str, external_id: str | None = None, replying_to: Post | None = None) -> Outcome:
        """Send a message (a reply to one of the bot's posts, with `replying_to`) and let the bot answer."""
        self.seen = len(self.posts)
        msg = IncomingMessage(channel=self.channel, external_id=external_id or f"m{next(_ids)}",
                              user_id=self.name, chat_id=self.chat_id, text=text, user_name=self.name.title(),
                              language=self.lang, chat_type=self.chat_type,
                              reply_to=replying_to.external_id if replying_to else None)
        self.last_outcome = await self.desk.app.submit(msg)
        await self.desk.settle()
        return self.last_outcome

    async def presses(self, label: str) -> Outcome:
        """Press the newest button with this label (substring) in the chat."""
        for post in reversed(self.posts):
            for text, action in post.buttons:
                if label.lower() in text.lower():
                    return await self.press_action(action)
        raise AssertionError(f"{self.name} sees no button {label!r}; posts: {self.replies_text()}")

    async def presses_on(self, post: Post, label: str) -> Outcome:
        """Press a button of a post in another chat (e.g. Claim on a ticket card in the queue's space)."""
        for text, action in post.buttons:
            if label.lower() in text.lower():
                return await self.press_action(action)
        raise AssertionError(f"no button {label!r} on: {post.text}")

    async def press_action(self, action: str) -> Outcome:
        """Press a button by its raw action data."""
        self.seen = len(self.posts)
        msg = IncomingMessage(channel=self.channel, external_id=f"a{next(_ids)}", user_id=self.name,
                              chat_id=self.chat_id, action=action, user_name=self.name.title(),
                              chat_type=self.chat_type)
        self.last_outcome = await self.desk.app.submit(msg)
        await self.desk.settle()
        return self.last_outcome

    def replies(self) -> list[Post]:
        """Posts since this actor last spoke."""
        return self.posts[self.seen:]

    def replies_text(self) -> str:
        return "\n---\n".join(p.text for p in self.replies())

    def sees(self, *fragments: str) -> Post:
        """Assert a reply since the last message contains every fragment; return it."""
        for post in self.replies():
            if all(f.lower() in post.text.lower() for f in fragments):
                return post
        raise AssertionError(f"{self.name} does not see {fragments!r} in:\n{self.replies_text()}")

    def sees_nothing(self) -> None:
        assert not self.replies(), f"{self.name} unexpectedly sees:\n{self.replies_text()}"

    def buttons(self, fragment: str = "") -> list[str]:
        """Labels of the buttons of the newest reply (containing `fragment`)."""
        for post in reversed(self.replies()):
            if fragment.lower() in post.text.lower():
                return [label for label, _ in post.buttons]
        raise AssertionError(f"{self.name} sees no reply with {fragment!r}")


@dataclass
class QueueView:
    """A queue's expert space as experts see it."""

    desk: Desk
    queue_id: str

    @property
    def posts(self) -> list[Post]:
        return self.desk.channel("console").posts[f"queue:{self.queue_id}"]

    def sees_new_ticket(self, from_: str | None = None) -> Post:
        assert self.posts, f"nothing announced in {self.queue_id}"
        card = self.posts[-1]
        if from_ is not None:
            assert from_.lower() in card.text.lower(), card.text
        return card

    def sees(self, fragment: str) -> Post:
        for post in reversed(self.posts):
            if fragment.lower() in post.text.lower():
                return post
        raise AssertionError(f"{self.queue_id} does not show {fragment!r}: {[p.text for p in self.posts]}")


@dataclass
class Desk:
    """The help desk under test."""

    app: HelpDesk
    clock: FakeClock
    channels: dict[str, MemoryChannel] = field(default_factory=dict)

    def channel(self, name: str) -> MemoryChannel:
        return self.channels[name]

    def practitioner(self, name: str, channel: str = "telegram", lang: str | None = None) -> Actor:
        return Actor(self, name, channel, f"dm-{name}", lang)

    async def staff(self, handle: str, role: str = "expert", channel: str = "telegram") -> Actor:
        """An expert or secretariat member known by handle (the config lists their queues)."""
        await add_person(self.app, handle, role, channel)
        await self.app.sync_config()
        return Actor(self, handle, channel, f"dm-{handle}")

    def queue(self, queue_id: str) -> QueueView:
        return QueueView(self, queue_id)

    async def settle(self) -> None:
        """Send everything the outbox holds now."""
        assert self.app.drainer is not None
        while await self.app.drainer.drain_once():
            pass

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.settle()


async def add_person(app: HelpDesk, handle: str, role: str, channel: str, lang: str = "en",
                     user_id: str | None = None, chat_id: str | None = None) -> int:
    """Create a person with one identity (what `helpdesk users add` does); user and chat ids default to the handle."""
    P, I = table(Person), table(Identity)  # noqa: E741
    now = app.clock.now()
    async with app.engine.begin() as conn:
        pid = (await conn.execute(select(P.c.id).where(P.c.handle == handle))).scalar()
        if pid is not None:  # staff the config names are people from the start: give them this identity once
            if (await conn.execute(select(I.c.id).where(I.c.person_id == pid, I.c.channel == channel))).first():
                return int(pid)
            await conn.execute(update(P).where(P.c.id == pid).values(role=role, language=lang))
        else:
            pid = (await conn.execute(insert(P).values(
                handle=handle, display_name=handle.title(), role=role, language=lang, timezone="UTC",
                blocked=False, created_at=now).returning(P.c.id))).scalar_one()
        await conn.execute(insert(I).values(person_id=pid, channel=channel, external_user_id=user_id or handle,
                                            chat_id=chat_id or f"dm-{handle}", created_at=now))
    return int(pid)


def config_with_service(**changes: object) -> ServiceConfig:
    """The shipped config with some `[service]` settings changed (e.g. `reopen_days=5`)."""
    config = load_config()
    return config.model_copy(update={"service": config.service.model_copy(update=changes)})


async def start_desk(settings: Settings, config: ServiceConfig | None = None, with_kb: bool = True,
                     drain: bool = False) -> Desk:
    """Migrate, load the starter KB, start the help desk with memory channels and a fake clock
    (and with `drain` its outbox drainer, as `helpdesk run` does)."""
    clock = FakeClock()
    channels = {name: MemoryChannel(name) for name in ("console", "telegram", "slack")}
    app = build_app(settings, clock=clock, channels=channels, config=config)
    await migrate.upgrade(app.engine)
    if with_kb:
        async with app.engine.begin() as conn:
            await import_entries(conn, load_kb_dir(KB_DIR).entries, clock.now())
    await app.start(drain=drain)
    return Desk(app, clock, channels)
