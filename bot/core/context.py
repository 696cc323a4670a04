"""What a handler sees: the message, the person, their conversation, and ways to act."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Space
from bot.core.conversation import Waiting
from bot.core.language import message_language, remember
from bot.core.messages import Attachment, Button, IncomingMessage
from bot.db.driver import fetch, inserting, new_ids, run_together, updating, upserting
from bot.db.models import Audit, Conversation, Message, Outbox, Ticket, TriageDecision, table
from bot.db.sql import one_of, per_dialect
from bot.i18n import t

if TYPE_CHECKING:
    from bot.core.services import Services

SYSTEM = "system"  # the role and channel of work no message caused (the SLA sweep)


@dataclass
class ConversationState:
    """Where the person is in a dialogue (`state` empty means idle)."""

    state: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    changed: bool = False


@dataclass
class Person:
    """The sender as the hot path loads them (one row of person joined with identity and conversation)."""

    id: int
    role: str
    language: str
    display_name: str
    handle: str | None = None
    timezone: str = "UTC"
    blocked: bool = False
    language_chosen: bool = False  # set with /language: it wins over the language of each message
    is_new: bool = False
    conversation: ConversationState = field(default_factory=ConversationState)
    has_ticket: bool = False  # an open ticket, or one closed recently enough to reopen (when loaded)

    @property
    def is_staff(self) -> bool:
        """Experts and the secretariat."""
        return self.role in ("expert", "secretariat")


@dataclass
class TicketReads:
    """Tickets read for a whole batch at once (`tickets.prefetch`), before its messages are handled.

    Every write to a ticket in the batch drops what was read of it (`forget`), so a handler never sees a
    ticket as it was before an earlier message of the same batch changed it.
    """

    staff: dict[tuple[int, int], Any] = field(default_factory=dict)  # (ticket, staff member) -> view, None: no ticket
    open_of: dict[int, list[Any]] = field(default_factory=dict)  # practitioner -> their open tickets (views)

    def forget(self, ticket_id: int, person_id: int | None) -> None:
        """A ticket (of this practitioner, when known) was written: read it again when asked."""
        for key in [key for key in self.staff if key[0] == ticket_id]:
            del self.staff[key]
        if person_id is None:
            self.open_of.clear()
        else:
            self.open_of.pop(person_id, None)

    def clear(self) -> None:
        """Many tickets were written (e.g. a person's data erased): read everything again."""
        self.staff.clear()
        self.open_of.clear()


@dataclass
class Effects:
    """Rows a batch of messages writes, flushed together just before commit."""

    outbox: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    triage: list[dict[str, Any]] = field(default_factory=list)
    threads: dict[int, dict[str, Any]] = field(default_factory=dict)  # message id -> its ticket and `internal`
    # Read once per batch: the chats where each queue's tickets are announced (linking a chat clears it).
    spaces: dict[str, list[Space]] = field(default_factory=dict)
    next_checks: dict[int, datetime | None] = field(default_factory=dict)  # ticket id -> its new `sla_next_at`
    throttled: list[int] = field(default_factory=list)  # messages stored but not handled (a flood)
    reads: TicketReads = field(default_factory=TicketReads)
    # Writes a handler left for the end of the batch, done together (e.g. its KB drafts, one insert for all).
    deferred: dict[str, Callable[[AsyncConnection], Awaitable[None]]] = field(default_factory=dict)

    def join_thread(self, message_id: int, ticket_id: int, internal: bool, *, only_if_unlinked: bool = False) -> None:
        """Make a message of this batch part of a ticket's thread (written with the batch)."""
        if not (only_if_unlinked and message_id in self.threads):
            self.threads[message_id] = {"id": message_id, "ticket_id": ticket_id, "internal": internal}

    async def settle(self, conn: AsyncConnection) -> None:
        """Do the deferred writes (they may add outbox and audit rows): before the outbox rows are leased."""
        while self.deferred:
            _, write = self.deferred.popitem()
            await write(conn)

    async def write(self, conn: AsyncConnection, conversations: list[dict[str, Any]] | None = None) -> None:
        """Write the buffered rows and the batch's changed `conversations`: one statement per table, all in one
        round trip on PostgreSQL (outbox rows leased to a drainer get their ids)."""
        await self.settle(conn)
        if self.throttled:  # before the rest: these messages' rows must not be updated twice in one statement
            await fetch(conn, _THROTTLED(conn), {"ids": self.throttled})
        leased = any(row["status"] == "sending" for row in self.outbox)  # the drainer needs their ids
        rows = await run_together(conn, [
            inserting(conn, _O, self.outbox, ids=leased),  # first: its ids come back
            inserting(conn, _AUDIT, self.audit),
            inserting(conn, _TRIAGE, self.triage),
            updating(conn, _M, list(self.threads.values())),
            updating(conn, _T, [{"id": t, "sla_next_at": at} for t, at in self.next_checks.items()]),
            upserting(conn, _C, conversations or [], ["person_id"]),
        ])
        if leased:
            for row, outbox_id in zip(self.outbox, new_ids(conn, rows), strict=True):
                row["id"] = outbox_id

    def link_triage(self, message_id: int, ticket_id: int) -> bool:
        """Point the buffered triage decision of a message at the ticket it opened (False: none buffered)."""
        rows = [row for row in self.triage if row["message_id"] == message_id]
        for row in rows:
            row["ticket_id"] = ticket_id
        return bool(rows)


_M = table(Message)
_T = table(Ticket)
_O = table(Outbox)
# Built once: every batch runs them.
_AUDIT = table(Audit)
_C = table(Conversation)
_TRIAGE = table(TriageDecision)
_THROTTLED = per_dialect(lambda dialect: update(_M).where(one_of(_M.c.id, "ids", dialect)).values(status="throttled"))


def button_rows(buttons: Iterable[Button]) -> list[dict[str, str]] | None:
    """Buttons as stored in the outbox."""
    rows = [{"label": b.label, "action": b.action} for b in buttons]
    return rows or None


class Context:
    """One message being handled inside the batch transaction."""

    def __init__(
        self,
        services: Services,
        conn: AsyncConnection,
        msg: IncomingMessage,
        message_id: int,
        person: Person,
        conversation: ConversationState,
        effects: Effects,
        now: datetime,
    ) -> None:
        self.services = services
        self.conn = conn
        self.msg = msg
        self.message_id = message_id
        self.person = person
        self.conversation = conversation
        self.effects = effects
        self.now = now  # the batch's time: every message of one transaction is handled at the same moment
        self.notice: str | None = None  # a short answer to a button press (a toast on Telegram)
        # Known, when the batch began, to have no open or reopenable ticket (saves two queries per question):
        self.ticketless = False
        # The sender's place in queues learnt while handling: queue -> is lead (None: not a member).
        self.queue_roles: dict[str, bool | None] = {}
        # The language to answer in: this message's own for practitioners (bot/core/language.py).
        self.lang, from_text = message_language(msg, person.language, person.language_chosen,
                                                detect=person.role == "practitioner")
        if from_text and self.lang != person.language:
            person.language = self.lang  # the person's next button press or short reply follows it
            key, write = remember(person.id, self.lang)
            effects.deferred[key] = write

    @classmethod
    def system(cls, services: Services, conn: AsyncConnection, effects: Effects, now: datetime) -> Context:
        """A context for work no message caused (the SLA sweep): no sender, audited without an actor."""
        person = Person(0, SYSTEM, services.config.service.default_language, SYSTEM)
        msg = IncomingMessage(channel=SYSTEM, external_id="", user_id="", chat_id="")
        return cls(services, conn, msg, 0, person, ConversationState(), effects, now)

    def t(self, key: str, /, **values: object) -> str:
        """A text in the sender's language."""
        return t(key, self.lang, **values)

    def button(self, label: str, verb: str, *args: object) -> Button:
        """A button whose press comes back as the signed action `verb:args`."""
        return Button(label=label, action=self.services.signer.sign(verb, *args))

    def reply(self, text: str, buttons: Iterable[Button] = (), ticket_id: int | None = None) -> None:
        """Answer in the chat the message came from."""
        if self.msg.action is not None and self.notice is None and not buttons:
            self.notice = text
        self.send(self.msg.channel, self.msg.chat_id, text, buttons, person_id=self.person.id,
                  ticket_id=ticket_id)

    def send(
        self,
        channel: str,
        chat_id: str,
        text: str,
        buttons: Iterable[Button] = (),
        *,
        person_id: int | None = None,
        ticket_id: int | None = None,
        kind: str = "send",
        ref: str | None = None,
        thread_ref: str | None = None,
        attachments: Iterable[Attachment] = (),
    ) -> None:
        """Queue a message (or an edit of the post named `ref`) in the outbox."""
        files = [a.__dict__ for a in attachments] or None
        self.effects.outbox.append({
            "channel": channel, "chat_id": chat_id, "person_id": person_id, "ticket_id": ticket_id,
            "kind": kind, "ref": ref, "thread_ref": thread_ref, "text": text,
            "buttons": button_rows(buttons), "attachments": files, "status": "pending",
            "attempts": 0, "next_attempt_at": self.now, "created_at": self.now,
        })

    def audit(self, action: str, *, ticket_id: int | None = None, allowed: bool = True,
              **detail: Any) -> None:
        """Record who did what, from where."""
        self.effects.audit.append({
            "at": self.now, "actor_id": None if self.person.role == SYSTEM else self.person.id,
            "action": action, "ticket_id": ticket_id, "channel": self.msg.channel, "allowed": allowed,
            "detail": detail or None,
        })

    def expect(self, state: Waiting, **data: Any) -> None:
        """Wait for this input from the person next (bot/core/conversation.py lists the states)."""
        self.conversation.state = state
        self.conversation.data = data
        self.conversation.changed = True

    def expect_nothing(self) -> None:
        """Back to idle."""
        if self.conversation.state or self.conversation.data:
            self.expect(Waiting.NOTHING)
