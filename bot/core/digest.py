"""Topic subscriptions and the weekly digest of what was learnt.

A practitioner subscribes to queues (topics) with /subscribe. Once a week (`[learning] digest_weekday`, from
`digest_hour` in their time zone, outside their quiet hours) the scheduler's round sends each subscriber one
message listing the FAQ entries of their queues added or changed since their last digest — approved drafts
from resolved tickets included, as the secretariat reviewed them (never the asker's identity or words) — in
their language where the entry has it. A `digest_round` row per subscriber and period (unique) is written in
the transaction that writes the message, so each digest goes out once across restarts and replicas. A digest
with nothing new is not sent (its round is recorded all the same). Subscribers who cannot be reached (blocked
the bot, blocked, erased) are skipped and keep their subscriptions; when they are back they get the digest of
the current period, listing everything since the last one they got.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.context import Context, Effects
from bot.core.outcomes import askable
from bot.core.reminders import quiet_hours
from bot.core.services import Services
from bot.core.spaces import private_chat
from bot.core.tickets import notify_person
from bot.db.models import DigestRound, KBEntryRow, KBEntryVersion, Person, TopicSubscription, table
from bot.db.sql import insert_ignore
from bot.i18n import t

S, R, P = table(TopicSubscription), table(DigestRound), table(Person)
E, V = table(KBEntryRow), table(KBEntryVersion)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MOST_ITEMS = 15
ANSWER_CHARS = 280


async def subscribed(conn: AsyncConnection, person_id: int) -> list[str]:
    """The queues a person is subscribed to."""
    return list((await conn.execute(select(S.c.queue_id).where(S.c.person_id == person_id)
                                    .order_by(S.c.queue_id))).scalars())


async def toggle(ctx: Context, queue_id: str) -> bool:
    """Subscribe the sender to a queue, or unsubscribe them when they are; True when subscribed now."""
    if await unsubscribe(ctx, queue_id):
        return False
    await ctx.conn.execute(insert(S).values(person_id=ctx.person.id, queue_id=queue_id, created_at=ctx.now))
    ctx.audit("digest.subscribe", queue=queue_id)
    return True


async def unsubscribe(ctx: Context, queue_id: str) -> bool:
    """End the sender's subscription to a queue; False when there was none."""
    gone = await ctx.conn.execute(delete(S).where(S.c.person_id == ctx.person.id, S.c.queue_id == queue_id))
    if gone.rowcount:
        ctx.audit("digest.unsubscribe", queue=queue_id)
    return bool(gone.rowcount)


@dataclass(frozen=True)
class Item:
    """One FAQ entry in a digest."""

    entry_id: str
    queue: str
    question: str
    answer: str
    source: str
    new: bool  # added since (else changed)


async def items(conn: AsyncConnection, queues: list[str], lang: str, since: datetime) -> list[Item]:
    """FAQ entries of `queues` added or changed after `since`, one per topic, in `lang` where the topic has it."""
    versions = V.alias("versions")
    first = select(func.min(versions.c.created_at)).where(versions.c.entry_id == E.c.id).scalar_subquery()
    changed = select(E.c.topic).where(E.c.queue_id.in_(queues), E.c.retired_at.is_(None), E.c.updated_at > since)
    rows = await conn.execute(
        select(E.c.id, E.c.topic, E.c.queue_id, E.c.lang, E.c.updated_at, V.c.question, V.c.answer, V.c.source,
               first.label("first"))
        .join(V, (V.c.entry_id == E.c.id) & (V.c.version == E.c.version))
        .where(E.c.topic.in_(changed), E.c.retired_at.is_(None)).order_by(E.c.updated_at.desc(), E.c.id))
    chosen: dict[str, Any] = {}
    for r in rows:
        if r.topic not in chosen or (r.lang == lang and chosen[r.topic].lang != lang):
            chosen[r.topic] = r
    return [Item(r.id, r.queue_id, r.question, r.answer, r.source, r.first > since)
            for r in list(chosen.values())[:MOST_ITEMS]]


def text(found: list[Item], lang: str) -> str:
    """The digest's message."""
    lines = [t("digest.intro", lang, count=len(found))]
    for item in found:
        answer = " ".join(item.answer.split())
        answer = answer if len(answer) <= ANSWER_CHARS else answer[:ANSWER_CHARS - 1] + "…"
        mark = t("digest.new" if item.new else "digest.changed", lang)
        lines.append(t("digest.item", lang, queue=item.queue, mark=mark, question=item.question, answer=answer,
                       source=item.source))
    return "\n\n".join(lines)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_moment(now: datetime, timezone: str, weekday: str, hour: int) -> datetime:
    """The latest weekly due moment at or before `now`, in the subscriber's time zone: its local day names the
    digest's period."""
    local = now.astimezone(zone(timezone))
    day = local.date() - timedelta(days=(local.weekday() - WEEKDAYS.index(weekday)) % 7)
    moment = datetime.combine(day, time(hour), local.tzinfo)
    return moment if moment <= local else moment - timedelta(days=7)


async def send_due(engine: AsyncEngine, services: Services, now: datetime) -> int:
    """Send every digest due at `now`; return the messages written."""
    async with engine.begin() as conn:
        return await send_due_on(conn, services, now)


async def send_due_on(conn: AsyncConnection, services: Services, now: datetime) -> int:
    """`send_due` in the caller's transaction."""
    learning = services.config.learning
    last = select(func.max(R.c.handled_at)).where(R.c.person_id == P.c.id).scalar_subquery()
    people = list(await conn.execute(
        select(P.c.id, P.c.timezone, P.c.quiet_hours, func.min(S.c.created_at).label("subscribed"),
               last.label("last")).join(S, S.c.person_id == P.c.id).where(askable(P.c.id))
        .group_by(P.c.id, P.c.timezone, P.c.quiet_hours)))
    ctx = Context.system(services, conn, Effects(), now)
    for person in people:
        due = due_moment(now, person.timezone, learning.digest_weekday, learning.digest_hour)
        since = person.last or person.subscribed
        if due <= since:  # handled already, or the first period due after subscribing is still to come
            continue
        if quiet_hours(person.quiet_hours, person.timezone, services.config.service_levels).is_quiet(now):
            continue
        await _one(ctx, person.id, due, since)
    await ctx.effects.write(conn)
    return len(ctx.effects.outbox)


async def _one(ctx: Context, person_id: int, due: datetime, since: datetime) -> None:
    """One subscriber's digest of the period due at `due`, listing what changed after `since`: recorded once,
    sent when there is something new."""
    reach = await private_chat(ctx.conn, person_id)
    if reach is None:
        return
    found = await items(ctx.conn, await subscribed(ctx.conn, person_id), reach[2], since)
    inserted = await ctx.conn.execute(insert_ignore(ctx.conn, R, ["person_id", "period"]).values(
        person_id=person_id, period=due.date(), listed=len(found), handled_at=ctx.now).returning(R.c.id))
    if inserted.first() is None or not found:  # another process had it, or nothing new
        return
    lang = reach[2]
    buttons = [ctx.button(t("digest.unsubscribe", lang, queue=q), "unsub", q)
               for q in sorted({i.queue for i in found})]
    await notify_person(ctx, person_id, "digest.message", None, buttons, known_reach=reach, text=text(found, lang))
