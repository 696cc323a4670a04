"""The outbox drainer: sends committed replies through the channels, in order per chat.

A row is claimed with a lease (status "sending"), sent, then marked "sent" with the channel's
message id. Rows the message path writes while this drainer runs are leased to it as they are
inserted and handed over in memory after commit (`lease` / `hand_over`): no query claims them back.
A crash after sending and before marking re-sends that row once; a crash before commit never produced a
row. Each drainer is an instance with a heartbeat (table `instance`, every HEARTBEAT seconds); the rows
leased by one whose heartbeat stopped are taken back by the others after DEAD_AFTER, not after the lease.
Rate limits and outages delay rows (and every later row of the same chat, to keep order); only permanent
failures stop a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import Boolean, Update, and_, bindparam, delete, exists, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.clock import Clock
from bot.core.messages import Attachment, Button, OutgoingMessage
from bot.db.driver import update_rows
from bot.db.models import Instance, Outbox, table
from bot.db.sql import one_of, per_dialect
from bot.faults import log_failure
from bot.instruments import Instruments

log = logging.getLogger(__name__)
O, I = table(Outbox), table(Instance)  # noqa: E741
LEASE = timedelta(seconds=60)
HEARTBEAT = 1.0  # seconds between an instance's heartbeats
DEAD_AFTER = timedelta(seconds=3)  # an instance silent this long is dead: its rows are taken back
GONE = datetime(2000, 1, 1, tzinfo=UTC)  # the heartbeat of an instance that stopped
MARK_EVERY = 0.02  # seconds between commits of delivered rows
SCRUB = "scrub"  # rows with this ref lose their chat and text once sent
MAX_BACKOFF = 60.0
MERGE_MAX_CHARS = 3500  # a merged post stays under Telegram's 4,096 characters


class RetryLater(Exception):
    """Send again after `seconds` (429 retry_after, 5xx, network errors); `rate_limited` for 429s and pacing.

    The platform's faults are logged as one line each; `quiet` ones (our own pacing) are only counted.
    """

    def __init__(self, seconds: float, reason: str = "", rate_limited: bool = False, quiet: bool = False) -> None:
        super().__init__(reason or f"retry in {seconds}s")
        self.seconds = seconds
        self.rate_limited = rate_limited
        self.quiet = quiet


class PermanentFailure(Exception):
    """This row can never be sent (e.g. the user blocked the bot)."""

    def __init__(self, reason: str, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


class ChannelSender(Protocol):
    """What the drainer needs from a channel adapter."""

    name: str

    async def send(self, message: OutgoingMessage) -> str | None:
        """Deliver; return the channel's id of the posted message."""
        ...


DeliveryHook = Callable[[AsyncConnection, list[Any], list[Any]], Awaitable[None]]
"""Called in the round's transaction with the rows delivered and those whose recipient is unreachable."""


def _claim_statement(dialect: str) -> Update:
    """Lease the due rows of some channels, oldest first (SKIP LOCKED on PostgreSQL, where several
    drainers may claim at once)."""
    now = bindparam("now", type_=O.c.next_attempt_at.type)
    alive = exists().where(I.c.id == O.c.leased_by, I.c.heartbeat_at >= bindparam("alive_since"))
    dead_owner = and_(bindparam("takeover", type_=Boolean), O.c.leased_by.is_not(None),
                      O.c.leased_by != bindparam("me"), ~alive)
    due = or_(and_(O.c.status == "pending", O.c.next_attempt_at <= now),
              and_(O.c.status == "sending", or_(O.c.lease_until < now, dead_owner)))
    ids = select(O.c.id).where(due, one_of(O.c.channel, "channels", dialect)).order_by(O.c.id).limit(bindparam("most"))
    if dialect == "postgresql":
        ids = ids.with_for_update(skip_locked=True)
    return (update(O).where(O.c.id.in_(ids.scalar_subquery()))
            .values(status="sending", lease_until=bindparam("lease_until"), leased_by=bindparam("me"),
                    attempts=O.c.attempts + 1)
            .returning(*O.c))


# Built once per database kind.
_CLAIM = per_dialect(_claim_statement)


def backoff(attempts: int) -> float:
    """Exponential backoff for transient errors: 1, 2, 4 … seconds, capped."""
    return float(min(MAX_BACKOFF, 2 ** max(0, attempts - 1)))


class OutboxDrainer:
    """Claims due rows of its channels and sends them."""

    def __init__(self, engine: AsyncEngine, channels: Mapping[str, ChannelSender], clock: Clock,
                 batch: int = 200, concurrency: int = 32, poll_seconds: float = 1.0,
                 on_delivery: DeliveryHook | None = None, lease: timedelta = LEASE,
                 instruments: Instruments | None = None) -> None:
        self._engine = engine
        self._instruments = instruments
        self._lease = lease
        self._on_delivery = on_delivery
        self._channels = channels
        self._clock = clock
        self._batch = batch
        self._limit = asyncio.Semaphore(concurrency)
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._unmarked: dict[int, tuple[Any, dict[str, Any]]] = {}  # delivered, not yet recorded
        self._marked_at = 0.0  # time.monotonic() of the last recording
        self._marking_failed = False
        self._handed: list[Any] = []  # rows leased to this drainer when inserted, not sent yet
        self._claim_wanted = True  # rows may wait in the outbox that no one handed over
        self._next_claim = 0.0  # time.monotonic() when the outbox is looked at anyway
        self.instance = uuid.uuid4().hex
        self._healthy_since: float | None = None  # time.monotonic() since the heartbeats work
        self._beating: asyncio.Task[None] | None = None
        self.sent = 0

    def wake(self) -> None:
        """Something was committed: look at the outbox now."""
        self._claim_wanted = True
        self._wake.set()

    def lease(self, rows: list[dict[str, Any]]) -> None:
        """Lease new outbox rows (not inserted yet) of this drainer's channels to it, while it runs.

        After their transaction commits, `hand_over` them (with their ids): they are sent without being
        claimed back. If the process dies first, the lease runs out and any drainer sends them. Not on
        SQLite: there the ids of many inserted rows come back one statement per row, dearer than a claim.
        """
        if self._task is None or self._stopping or self._engine.dialect.name == "sqlite":
            return
        until = self._clock.now() + self._lease
        for row in rows:
            if row["channel"] in self._channels and row["status"] == "pending":
                row.update(status="sending", lease_until=until, leased_by=self.instance, attempts=1)
            else:  # another process sends it; every row of one insert has the same columns
                row.setdefault("lease_until", None)
                row.setdefault("leased_by", None)

    def hand_over(self, rows: list[dict[str, Any]]) -> None:
        """Committed outbox rows (with their ids): send the ones leased to this drainer, claim the others."""
        mine = [SimpleNamespace(**row) for row in rows if row["status"] == "sending"]
        self._handed.extend(mine)
        if len(mine) < len(rows):
            self._claim_wanted = True
        if rows:
            self._wake.set()

    async def start(self) -> None:
        """Beat and drain in the background until stopped."""
        self._stopping = False
        with contextlib.suppress(Exception):  # the database may be away; the heartbeat loop says so
            await self._beat()
        self._beating = asyncio.create_task(self._beat_loop(), name="outbox-heartbeat")
        self._task = asyncio.create_task(self._loop(), name="outbox-drainer")
        log.info("outbox drainer instance %s", self.instance)

    async def stop(self) -> None:
        """Finish the round in progress and stop; unsent rows wait for the next start."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(BaseException):
                await self._beating
            self._beating = None
            with contextlib.suppress(Exception):  # what is left leased to it is taken back at once
                async with self._engine.begin() as conn:
                    await conn.execute(update(I).where(I.c.id == self.instance).values(heartbeat_at=GONE))

    async def _beat(self) -> None:
        """Say this instance is alive (and forget instances silent for a day)."""
        now = self._clock.now()
        async with self._engine.begin() as conn:
            beat = await conn.execute(update(I).where(I.c.id == self.instance).values(heartbeat_at=now))
            if not beat.rowcount:
                await conn.execute(delete(I).where(I.c.heartbeat_at < now - timedelta(days=1)))
                await conn.execute(insert(I).values(id=self.instance, started_at=now, heartbeat_at=now))
        if self._healthy_since is None:
            self._healthy_since = time.monotonic()

    async def _beat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self._beat()
            except Exception as exc:
                if self._healthy_since is not None:
                    log_failure(log, "outbox heartbeat failed", exc,
                                "taking back rows of silent instances waits until it works again")
                self._healthy_since = None

    def _may_take_over(self) -> bool:
        """Only after beating for DEAD_AFTER: after an outage the others get as long to beat again."""
        healthy = self._healthy_since
        return healthy is not None and time.monotonic() - healthy >= DEAD_AFTER.total_seconds()

    async def _loop(self) -> None:
        while not self._stopping or self._handed:
            try:
                due = self._claim_wanted or time.monotonic() >= self._next_claim
                busy = await self._round(claim=due and not self._stopping)  # stopping: only what was handed over
            except Exception as exc:
                log_failure(log, "outbox round failed", exc, f"the next round in {self._poll:g} s")
                busy = 0
            if busy:
                continue
            recording = self._unmarked and not self._marking_failed  # after a failure, retry at the poll
            wait = max(0.0, self._marked_at + MARK_EVERY - time.monotonic()) if recording else self._poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            self._wake.clear()
        with contextlib.suppress(Exception):  # what cannot be recorded now is re-sent once after its lease
            await self._record(force=True)

    async def drain_once(self) -> int:
        """Claim and send one round of due rows (and those handed over); return how many were handled."""
        handled = await self._round(claim=True)
        await self._record(force=True)
        return handled

    async def _record(self, force: bool = False) -> None:
        """Record delivered rows at most every MARK_EVERY seconds (at once with `force`).

        A crash can then re-send only the rows delivered in the last few milliseconds.
        """
        if self._unmarked and (force or time.monotonic() - self._marked_at >= MARK_EVERY):
            await self._mark_sent(self._unmarked)

    async def _round(self, claim: bool) -> int:
        """Send the rows handed over and, with `claim`, the due rows claimed from the outbox."""
        await self._record()  # also what a round the database interrupted left over
        claimed: list[Any] = []
        if claim:
            self._next_claim = time.monotonic() + self._poll
            self._claim_wanted = False
            claimed = await self._claim()
            self._claim_wanted |= len(claimed) >= self._batch  # more may be due
        rows, self._handed = self._handed, []
        if claimed:
            known = {r.id for r in rows}
            rows = sorted(rows + [r for r in claimed if r.id not in known], key=lambda r: r.id)
        if not rows:
            return 0
        chats: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for row in rows:
            chats[(row.channel, row.chat_id)].append(row)
        held = await self._hold_back(chats)
        refs = await self._posted_refs(rows)
        unreachable: list[Any] = []
        marks = self._unmarked
        sending = asyncio.gather(*(self._send_chat(chat_rows, refs, unreachable, marks)
                                   for chat_rows in chats.values()))
        while not sending.done():
            await asyncio.wait([sending], timeout=MARK_EVERY)
            await self._record()
        results = [sent + held.get(chat, []) for chat, sent in zip(chats, sending.result(), strict=True)]
        if not unreachable and not any(results):
            return len(rows)  # every row delivered (and marked): nothing else to write
        async with self._engine.begin() as conn:
            if self._on_delivery is not None and unreachable:
                await self._on_delivery(conn, [], unreachable)
            for (channel, chat_id), updates in zip(chats, results, strict=True):
                for values in updates:
                    await conn.execute(update(O).where(O.c.id == values["id"])
                                       .values({k: v for k, v in values.items() if k != "id"}))
                postponed = [u["next_attempt_at"] for u in updates if u["status"] == "pending"]
                if postponed:  # later rows of this chat wait too, so the chat keeps its order
                    await conn.execute(update(O).where(
                        O.c.channel == channel, O.c.chat_id == chat_id, O.c.status == "pending",
                        O.c.next_attempt_at < postponed[0]).values(next_attempt_at=postponed[0]))
        return len(rows)

    async def _hold_back(self, chats: dict[tuple[str, str], list[Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Keep each chat in the order its rows were written: a row waits while an older row of its chat is unsent.

        The older row may wait for pacing or a retry, be leased to another replica, or be leased to a process
        that died. The rows held back are taken out of `chats` and returned as the updates that put them back
        in the outbox, due when the older row is (or at once when another drainer holds it), so that later
        claims find the chat's rows together, oldest first.
        """
        newest = max(r.id for chat_rows in chats.values() for r in chat_rows)
        async with self._engine.connect() as conn:
            older = list(await conn.execute(
                select(O.c.id, O.c.channel, O.c.chat_id, O.c.status, O.c.next_attempt_at)
                .where(O.c.status.in_(("pending", "sending")), O.c.id < newest,
                       tuple_(O.c.channel, O.c.chat_id).in_(list(chats)))
                .order_by(O.c.id)))
        now = self._clock.now()
        taken = {r.id for chat_rows in chats.values() for r in chat_rows} | set(self._unmarked)
        first: dict[tuple[str, str], Any] = {}
        for row in older:
            if row.id not in taken:
                first.setdefault((row.channel, row.chat_id), row)
        held: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for chat, blocker in first.items():
            waiting = [r for r in chats[chat] if r.id > blocker.id]
            if not waiting:
                continue
            chats[chat] = [r for r in chats[chat] if r.id < blocker.id]
            # A row another drainer holds: due now, claimed again (and looked at again) at the next poll.
            until = max(now, blocker.next_attempt_at) if blocker.status == "pending" else now
            held[chat] = [{"id": r.id, "status": "pending", "next_attempt_at": until, "lease_until": None,
                           "attempts": max(0, r.attempts - 1), "error": f"waiting for row {blocker.id} of this chat"}
                          for r in waiting]
        return held

    async def _mark_sent(self, marks: dict[int, tuple[Any, dict[str, Any]]]) -> None:
        """Record the rows delivered since the last call, in one statement.

        If the database fails, the rows stay in memory: they are marked later and never sent again by
        this process, even when their lease runs out meanwhile (a database outage duplicates nothing).
        """
        if not marks:
            return
        self._marked_at = time.monotonic()
        batch = list(marks.values())
        try:
            await self._write_marks(batch)
        except Exception as exc:
            if not self._marking_failed:
                log_failure(log, f"could not record {len(batch)} delivered rows yet", exc,
                            "kept in memory and recorded once the database answers (never sent again)")
            self._marking_failed = True
            return
        self._marking_failed = False
        for row, _ in batch:
            marks.pop(row.id, None)

    async def _write_marks(self, batch: list[tuple[Any, dict[str, Any]]]) -> None:
        async with self._engine.begin() as conn:
            if self._on_delivery is not None:
                await self._on_delivery(conn, [row for row, _ in batch], [])
            await update_rows(conn, O, [{"id": row.id, "sent_at": u["sent_at"], "external_id": u["external_id"]}
                                        for row, u in batch], status="sent", lease_until=None, error=None)
            scrub = [row.id for row, _ in batch if row.ref == SCRUB]
            if scrub:  # e.g. the confirmation of an erasure: nothing of it stays once delivered
                await conn.execute(update(O).where(O.c.id.in_(scrub)).values(chat_id="", text="[erased]"))

    async def _claim(self) -> list[Any]:
        now = self._clock.now()
        async with self._engine.begin() as conn:
            rows = list(await conn.execute(_CLAIM(conn), {
                "now": now, "lease_until": now + self._lease, "channels": list(self._channels), "most": self._batch,
                "me": self.instance, "takeover": self._may_take_over(), "alive_since": now - DEAD_AFTER}))
        rows.sort(key=lambda r: r.id)
        return rows

    def _count_retry(self, channel: str, reason: str) -> None:
        if self._instruments is not None:
            self._instruments.send_retries.labels(channel, reason).inc()

    async def _posted_refs(self, rows: list[Any]) -> dict[RefKey, tuple[str, str | None]]:
        """Status and channel id of the named posts that this round's edits and thread replies point at
        (posts delivered but not recorded yet included)."""
        tickets = {r.ticket_id for r in rows if r.ticket_id is not None and (r.kind == "edit" or r.thread_ref)}
        if not tickets:
            return {}
        async with self._engine.connect() as conn:
            found = await conn.execute(
                select(O.c.ticket_id, O.c.channel, O.c.chat_id, O.c.ref, O.c.status, O.c.external_id)
                .where(O.c.ticket_id.in_(tickets), O.c.kind == "send", O.c.ref.is_not(None)).order_by(O.c.id))
            refs = {(r.ticket_id, r.channel, r.chat_id, r.ref): (r.status, r.external_id) for r in found}
        for row, delivery in self._unmarked.values():
            if row.kind == "send" and row.ref and row.ticket_id in tickets:
                refs[(row.ticket_id, row.channel, row.chat_id, row.ref)] = ("sent", delivery["external_id"])
        return refs

    async def _send_chat(self, rows: list[Any], refs: dict[RefKey, tuple[str, str | None]],
                         unreachable: list[Any], marks: dict[int, tuple[Any, dict[str, Any]]],
                         ) -> list[dict[str, Any]]:
        """Send one chat's rows in order (a backlog of one ticket as one post); stop at the first that must wait.

        Delivered rows go to `marks`; the rows that failed or must wait are returned.
        """
        out: list[dict[str, Any]] = []
        async with self._limit:
            posts = merge_backlog(rows)
            for index, group in enumerate(posts):
                row = group[0]
                if all(r.id in marks for r in group):  # delivered before; only its record is missing
                    continue
                try:
                    message = _outgoing(row, refs, "\n\n".join(r.text for r in group))
                    external_id = await self._channels[row.channel].send(message)
                except RetryLater as exc:
                    self._count_retry(row.channel, "rate_limited" if exc.rate_limited else "unavailable")
                    if not exc.quiet:
                        log.warning("outbox row %s: %s; it and the chat's later rows wait %.1f s",
                                    row.id, str(exc).splitlines()[0][:200], exc.seconds)
                    until = self._clock.now() + timedelta(seconds=exc.seconds)
                    failures = 0 if exc.rate_limited else row.attempts  # an outage counts; a rate limit does not
                    out.extend(_postpone(posts[index:], until, str(exc), failures=failures))
                    return out
                except PermanentFailure as exc:
                    log.warning("outbox row %s failed for good: %s", row.id, exc)
                    out.extend({"id": r.id, "status": "failed", "error": str(exc)[:500], "lease_until": None}
                               for r in group)
                    if exc.unreachable:
                        unreachable.append(row)
                    continue
                except Exception as exc:
                    self._count_retry(row.channel, "error")
                    until = self._clock.now() + timedelta(seconds=backoff(row.attempts))
                    log.warning("outbox row %s: %s; retrying", row.id, exc)
                    out.extend(_postpone(posts[index:], until, repr(exc), failures=row.attempts))
                    return out
                self.sent += len(group)
                if row.kind == "send" and row.ref:
                    refs[(row.ticket_id, row.channel, row.chat_id, row.ref)] = ("sent", external_id)
                marks.update((r.id, (r, {"sent_at": self._clock.now(), "external_id": external_id})) for r in group)
        return out


RefKey = tuple[int | None, str, str, str]


def merge_backlog(rows: list[Any]) -> list[list[Any]]:
    """Group a chat's rows into posts: consecutive plain rows of one ticket that had to wait become one.

    A row "had to wait" when it was postponed (rate limit, outage): its chat is backed up, and one
    post for the ticket beats a queue whose latency grows without bound (Telegram groups: 20/min).
    """
    posts: list[list[Any]] = []
    for row in rows:
        last = posts[-1] if posts else None
        if (last is not None and _mergeable(row) and _mergeable(last[0]) and row.ticket_id == last[0].ticket_id
                and row.thread_ref == last[0].thread_ref
                and sum(len(r.text) + 2 for r in last) + len(row.text) <= MERGE_MAX_CHARS):
            last.append(row)
        else:
            posts.append([row])
    return posts


def _mergeable(row: Any) -> bool:
    return (row.kind == "send" and row.ticket_id is not None and not row.ref and not row.buttons
            and not row.attachments and row.next_attempt_at > row.created_at)


def _outgoing(row: Any, refs: dict[RefKey, tuple[str, str | None]], text: str | None = None) -> OutgoingMessage:
    """The message a row describes, with the channel ids of the posts it edits or replies under."""
    edit_id = _external_id(row, row.ref, refs) if row.kind == "edit" else None
    thread_id = _thread_id(row, refs) if row.thread_ref else None
    return OutgoingMessage(
        outbox_id=row.id, channel=row.channel, chat_id=row.chat_id, text=row.text if text is None else text,
        buttons=tuple(Button(**b) for b in row.buttons or ()), kind=row.kind,
        edit_external_id=edit_id, thread_external_id=thread_id,
        attachments=tuple(Attachment(**a) for a in row.attachments or ()), attempt=row.attempts,
        created_at=row.created_at,
    )


def _thread_id(row: Any, refs: dict[RefKey, tuple[str, str | None]]) -> str | None:
    """The post to reply under; None (a top-level post) when this chat never got it."""
    try:
        return _external_id(row, row.thread_ref, refs)
    except PermanentFailure:
        return None


def _external_id(row: Any, ref: str | None, refs: dict[RefKey, tuple[str, str | None]]) -> str:
    """The channel id of the earlier post named `ref` in the same chat (it must be sent first)."""
    found = refs.get((row.ticket_id, row.channel, row.chat_id, ref or ""))
    if found is None or found[0] == "failed":
        raise PermanentFailure(f"nothing named {ref!r} was posted in this chat")
    status, external_id = found
    if status != "sent" or external_id is None:
        raise RetryLater(1.0, f"{ref!r} not sent yet", quiet=True)
    return external_id


def _postpone(posts: list[list[Any]], until: Any, error: str, failures: int) -> list[dict[str, Any]]:
    """Rows that wait until `until`: the first post's count of consecutive failures becomes `failures`
    (a rate limit is not a failure: it resets the backoff), later posts were not tried and keep theirs."""
    out = []
    for n, group in enumerate(posts):
        for r in group:
            attempts = failures if n == 0 else r.attempts - 1  # the claim counted an attempt not made
            out.append({"id": r.id, "status": "pending", "next_attempt_at": until, "lease_until": None,
                        "attempts": attempts, "error": error[:500]})
    return out
