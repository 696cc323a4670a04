"""The one message path: dedupe → identity → handler → effects, in one transaction per batch.

Messages are handed to `Pipeline.submit`, which returns once the message is stored and its
effects (outbox rows, audit, triage, conversation state) are committed. Workers take messages
in batches and commit each batch once: the commit is the expensive part, so batching is what
makes the hot path fast. A batch that fails is retried message by message, and a message that
fails alone is still stored (status "failed") with an apology to the sender: nothing is lost.
Messages of one chat always go to the same worker, so they are handled in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core import files, tickets
from bot.core.context import Context, ConversationState, Effects, Person
from bot.core.identity import resolve_people
from bot.core.messages import IncomingMessage, clean_incoming
from bot.core.outbox import OutboxDrainer
from bot.core.router import Router
from bot.core.services import Services
from bot.db.driver import fetch, rows_insert
from bot.db.models import Message, Outbox, table
from bot.db.sql import per_dialect, row_params
from bot.faults import log_failure, recoverable
from bot.i18n import t
from bot.instruments import Instruments

log = logging.getLogger(__name__)

M = table(Message)


_MESSAGE_COLUMNS = ("channel", "external_id", "direction", "person_id", "chat_id", "kind", "text", "attachments",
                    "internal", "status", "created_at")
# The insert of a batch's messages that skips those already stored (built once per database kind).
_STORE = per_dialect(lambda dialect: rows_insert(dialect, M, _MESSAGE_COLUMNS)
                     .on_conflict_do_nothing(index_elements=["channel", "external_id"])
                     .returning(M.c.id, M.c.external_id))


@dataclass(frozen=True)
class Outcome:
    """What became of a submitted message."""

    message_id: int | None
    duplicate: bool = False
    failed: bool = False
    notice: str | None = None  # what the handler answered to a button press, for a toast


Item = tuple[IncomingMessage, "asyncio.Future[Outcome]"]


def _message_row(msg: IncomingMessage, person: Person, now: Any) -> dict[str, Any]:
    kind = ("event" if msg.event else "action" if msg.action else "command" if msg.text.startswith("/")
            else "text")
    return {
        "channel": msg.channel, "external_id": msg.external_id, "direction": "in",
        "person_id": person.id, "chat_id": msg.chat_id, "kind": kind,
        "text": msg.text if not msg.action else "",
        "attachments": [a.__dict__ for a in msg.attachments] or None,
        "internal": False, "status": "done", "created_at": msg.received_at or now,
    }


class Pipeline:
    """Batching workers that run every inbound message through the router."""

    def __init__(self, engine: AsyncEngine, services: Services, router: Router, *, workers: int = 1,
                 batch_max: int = 64, drainer: OutboxDrainer | None = None,
                 instruments: Instruments | None = None) -> None:
        self._engine = engine
        self._instruments = instruments
        self._services = services
        self._router = router
        self._queues: list[asyncio.Queue[Item | None]] = [asyncio.Queue() for _ in range(workers)]
        self._tasks: list[asyncio.Task[None]] = []
        self._batch_max = batch_max
        self._drainer = drainer

    async def start(self) -> None:
        """Start the workers."""
        self._tasks = [asyncio.create_task(self._worker(q), name=f"pipeline-{i}")
                       for i, q in enumerate(self._queues)]

    async def stop(self) -> None:
        """Finish what was submitted, then stop."""
        for q in self._queues:
            q.put_nowait(None)
        await asyncio.gather(*self._tasks)
        self._tasks = []

    async def submit(self, msg: IncomingMessage) -> Outcome:
        """Handle one message (its text made storable first); returns when it is stored and its effects are
        committed."""
        msg = clean_incoming(msg)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        shard = zlib.crc32(f"{msg.channel}:{msg.chat_id}".encode()) % len(self._queues)
        self._queues[shard].put_nowait((msg, future))
        return await future

    async def _worker(self, queue: asyncio.Queue[Item | None]) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            # One turn of the loop first: the senders the last batch's commit woke up hand in their next
            # messages, which then join this batch instead of waiting for the one after it.
            await asyncio.sleep(0)
            batch = [item]
            stop = False
            while len(batch) < self._batch_max and not queue.empty():
                nxt = queue.get_nowait()
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            await self._run(batch)
            if stop:
                return

    async def _run(self, batch: list[Item]) -> None:
        try:
            outcomes = await self._transaction([msg for msg, _ in batch])
        except Exception as exc:
            if recoverable(exc):  # the database is away: not stored, so the channels deliver them again
                log_failure(log, f"batch of {len(batch)} messages not stored", exc,
                            "not acknowledged: the channels deliver them again")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                return
            log.warning("batch of %d failed; handling its messages one by one", len(batch), exc_info=True)
            if len(batch) > 1:
                for item in batch:
                    await self._run([item])
                return
            log.exception("message %s/%s failed", batch[0][0].channel, batch[0][0].external_id)
            try:
                outcomes = [await self._store_failed(batch[0][0])]
            except Exception as exc:  # the database itself fails: the sender must keep it and retry
                log.exception("message %s/%s could not be stored as failed either", batch[0][0].channel,
                              batch[0][0].external_id)
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _transaction(self, messages: Sequence[IncomingMessage]) -> list[Outcome]:
        started = time.perf_counter()
        now = self._services.clock.now()
        async with self._engine.begin() as conn:
            people = await resolve_people(conn, messages, now, self._services.config.service)
            rows = [_message_row(m, people[(m.channel, m.user_id)], now) for m in messages]
            stored = {external_id: message_id  # duplicates: nothing
                      for message_id, external_id in await fetch(conn, _STORE(conn), row_params(conn, rows))}
            await files.record(conn, [row for m in messages if m.attachments and m.external_id in stored
                                      for row in files.upload_rows(m.attachments, people[(m.channel, m.user_id)].id,
                                                                   stored[m.external_id], now)])  # web uploads
            effects = Effects()
            await tickets.prefetch(conn, effects, [(m, people[(m.channel, m.user_id)]) for m in messages
                                                   if m.external_id in stored])
            conversations = {p.id: p.conversation for p in people.values()}
            # Only a person's own message opens a ticket for them: "no ticket" holds until their first
            # message of the batch is handled.
            ticketless = {p.id for p in people.values() if p.role == "practitioner" and not p.has_ticket}
            outcomes: list[Outcome] = []
            for msg in messages:
                message_id = stored.pop(msg.external_id, None)
                if message_id is None:
                    outcomes.append(Outcome(None, duplicate=True))
                    continue
                person = people[(msg.channel, msg.user_id)]
                if person.blocked:
                    outcomes.append(Outcome(message_id))
                    continue
                ctx = Context(self._services, conn, msg, message_id, person,
                              conversations[person.id], effects, now)
                ctx.ticketless = person.id in ticketless
                ticketless.discard(person.id)  # their next message in this batch may find a ticket it opened
                handling = time.perf_counter()
                await self._router.handle(ctx)
                if self._instruments is not None:
                    self._instruments.handler_seconds.observe(time.perf_counter() - handling)
                outcomes.append(Outcome(message_id, notice=ctx.notice))
            await effects.settle(conn)  # before leasing: deferred writes add outbox rows
            if self._drainer is not None:
                self._drainer.lease(effects.outbox)
            await _flush(conn, effects, conversations, now)
        if self._drainer is not None:
            self._drainer.hand_over(effects.outbox)
        if self._instruments is not None:
            self._instruments.batch_seconds.observe(time.perf_counter() - started)
            self._instruments.batch_messages.observe(len(messages))
        return outcomes

    async def _store_failed(self, msg: IncomingMessage) -> Outcome:
        """Keep a message whose handling failed, and tell the sender; it can be replayed later."""
        now = self._services.clock.now()
        async with self._engine.begin() as conn:
            people = await resolve_people(conn, [msg], now, self._services.config.service)
            person = people[(msg.channel, msg.user_id)]
            row = _message_row(msg, person, now) | {"status": "failed"}
            stored = await fetch(conn, _STORE(conn), row_params(conn, [row]))
            if not stored:
                return Outcome(None, duplicate=True)
            message_id = stored[0][0]
            await files.record(conn, files.upload_rows(msg.attachments, person.id, message_id, now))
            await conn.execute(insert(table(Outbox)).values(
                channel=msg.channel, chat_id=msg.chat_id, person_id=person.id, kind="send",
                text=t("error.internal", person.language), status="pending", attempts=0,
                next_attempt_at=now, created_at=now))
        if self._drainer is not None:
            self._drainer.wake()
        return Outcome(message_id, failed=True)


async def _flush(conn: AsyncConnection, effects: Effects, conversations: dict[int, ConversationState],
                 now: Any) -> None:
    """Write the batch's buffered rows and changed conversations."""
    await effects.write(conn, [{"person_id": pid, "state": c.state, "data": c.data, "updated_at": now}
                               for pid, c in conversations.items() if c.changed])
