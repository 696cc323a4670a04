"""Typed ORM models. The per-message hot path uses their tables with Core statements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.db.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON(none_as_null=True),
        list[Any]: JSON(none_as_null=True),
        datetime: UTCDateTime,
    }


class AppSetting(Base):
    """Small key/value facts shared by every process (e.g. the button signing key)."""

    __tablename__ = "app_setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Instance(Base):
    """A running drainer (one per process) and its last heartbeat: rows leased by one that stopped beating are
    taken back by the others within seconds, not after the whole lease."""

    __tablename__ = "instance"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class SendBudget(Base):
    """A budget shared by the replicas (e.g. Telegram's posts per chat): its theoretical arrival time (epoch s)."""

    __tablename__ = "send_budget"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    tat: Mapped[float] = mapped_column(Float)


class Person(Base):
    """Anyone who talks to the bot: practitioner, expert or secretariat."""

    __tablename__ = "person"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handle: Mapped[str | None] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="practitioner")
    language: Mapped[str] = mapped_column(String(8), default="en")
    # Chosen with /language: replies keep to it; otherwise each message is answered in its own language.
    language_chosen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    country: Mapped[str | None] = mapped_column(String(100))
    institution: Mapped[str | None] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(50))
    away_until: Mapped[datetime | None]
    unreachable_at: Mapped[datetime | None]
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_hours: Mapped[str | None] = mapped_column(String(11))  # "20:00-08:00" local; None: the service default
    created_at: Mapped[datetime]


class Identity(Base):
    """One person's account on one channel; messages arrive by identity."""

    __tablename__ = "identity"
    __table_args__ = (UniqueConstraint("channel", "external_user_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_user_id: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[str] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Queue(Base):
    """An expert queue (a topic), mirrored from the service config."""

    __tablename__ = "queue"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    auto_assign: Mapped[bool] = mapped_column(Boolean, default=False)
    last_assigned_id: Mapped[int | None] = mapped_column(BigId)


class QueueMember(Base):
    """An expert's membership of a queue; leads get escalations."""

    __tablename__ = "queue_member"
    queue_id: Mapped[str] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)


class Ticket(Base):
    """A practitioner's question handled by an expert queue."""

    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_state_queue", "state", "queue_id"),
        Index("ix_ticket_sla_next_at", "sla_next_at"),
        Index("ix_ticket_created_at", "created_at"),  # reports select tickets by when they were opened
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    queue_id: Mapped[str] = mapped_column(ForeignKey("queue.id"))
    state: Mapped[str] = mapped_column(String(16), default="new")
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    linked_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    summary: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # SLA state, kept up to date on every transition and swept by the scheduler.
    first_response_due: Mapped[datetime | None]
    next_response_due: Mapped[datetime | None]
    resolution_due: Mapped[datetime | None]
    claim_expires_at: Mapped[datetime | None]
    sla_paused_at: Mapped[datetime | None]
    sla_next_at: Mapped[datetime | None]
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    queued_at: Mapped[datetime | None]  # when it last entered its queue unclaimed: the escalation ladder's start
    sla_level: Mapped[int] = mapped_column(Integer, default=0)  # steps of the current ladder already taken


class Message(Base):
    """Every inbound message (stored before it is acted on) and relayed outbound ones."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_message_ticket_id", "ticket_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(3))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    chat_id: Mapped[str] = mapped_column(String(128))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    kind: Mapped[str] = mapped_column(String(16), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any] | None]
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="done")
    created_at: Mapped[datetime]


class Outbox(Base):
    """A reply waiting to be sent; written in the transaction that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_chat", "channel", "chat_id", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    kind: Mapped[str] = mapped_column(String(8), default="send")
    ref: Mapped[str | None] = mapped_column(String(32))  # names a post so later rows can edit it
    thread_ref: Mapped[str | None] = mapped_column(String(32))  # post in the thread of that post
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[Any] | None]
    attachments: Mapped[list[Any] | None]
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(32))  # the Instance whose lease it is
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)


class Audit(Base):
    """Who did what, when and from where."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    action: Mapped[str] = mapped_column(String(48))
    # No foreign key: attempts on unknown tickets are audited too.
    ticket_id: Mapped[int | None] = mapped_column(BigId, index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[dict[str, Any] | None]


class KBEntryRow(Base):
    """A FAQ entry's identity and current version; retired entries stay."""

    __tablename__ = "kb_entry"
    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    topic: Mapped[str] = mapped_column(String(96), index=True)
    queue_id: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(32))
    retired_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class KBEntryVersion(Base):
    """One immutable version of a FAQ entry."""

    __tablename__ = "kb_entry_version"
    entry_id: Mapped[str] = mapped_column(ForeignKey("kb_entry.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    phrasings: Mapped[list[Any]]
    answer: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]]
    owner: Mapped[str] = mapped_column(String(100), default="")
    review_by: Mapped[date | None] = mapped_column(Date)
    origin: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]


class TriageDecision(Base):
    """What the bot decided for one question, with candidates, scores and thresholds."""

    __tablename__ = "triage_decision"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    lang: Mapped[str] = mapped_column(String(8))
    decision: Mapped[str] = mapped_column(String(12))
    top_entry_id: Mapped[str | None] = mapped_column(String(96), index=True)
    top_score: Mapped[float | None]
    queue_id: Mapped[str | None] = mapped_column(String(32))
    candidates: Mapped[list[Any]]
    thresholds: Mapped[dict[str, Any]]
    feedback: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(index=True)


class Conversation(Base):
    """Where a person is in a dialogue; lives here so restarts and replicas continue it."""

    __tablename__ = "conversation"
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(48), default="")
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class QueueSpace(Base):
    """A chat where a queue's tickets are announced (beside those in the config), e.g. a linked Telegram group."""

    __tablename__ = "queue_space"
    queue_id: Mapped[str] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[datetime]


class LinkCode(Base):
    """A one-time code that links a second channel identity to a person."""

    __tablename__ = "link_code"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]


class SlaEvent(Base):
    """A reminder, warning or escalation that fired; the unique key makes it fire once."""

    __tablename__ = "sla_event"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "level", "deadline"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    level: Mapped[int] = mapped_column(Integer, default=0)
    deadline: Mapped[datetime]
    fired_at: Mapped[datetime]


class ClosedDay(Base):
    """A custom holiday of one queue, added by the secretariat (public holidays come from the calendar)."""

    __tablename__ = "closed_day"
    queue_id: Mapped[str] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class SlaReminder(Base):
    """A reminder to one expert waiting for their next digest (quiet hours, at most one digest an hour)."""

    __tablename__ = "sla_reminder"
    __table_args__ = (Index("ix_sla_reminder_pending", "sent_at", "person_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    text_key: Mapped[str] = mapped_column(String(48))  # locale key of the line
    params: Mapped[dict[str, Any]]  # its placeholders
    due_at: Mapped[datetime | None]  # the deadline the line mentions, shown in the expert's time zone
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


def table(model: type[Base]) -> Table:
    """The Core table of a model, typed for Core statements on the hot path."""
    return cast(Table, model.__table__)


class KBDraft(Base):
    """A FAQ entry proposed from a resolved ticket, waiting for the secretariat's review."""

    __tablename__ = "kb_draft"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"), index=True)
    queue_id: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    entry_id: Mapped[str | None] = mapped_column(String(96))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class LoginToken(Base):
    """A one-time web login link (stored as a hash; single use; short-lived)."""

    __tablename__ = "login_token"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class StoredFile(Base):
    """A file uploaded in the web chat, or relayed to it; its bytes live once per content hash in the files dir."""

    __tablename__ = "stored_file"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random: the /files/<id> link
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(128))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)  # the uploader
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime]
    # A file relayed from a chat platform (an expert's Telegram or Slack file): fetched from there on the
    # first download; until then `sha256` is empty.
    source_channel: Mapped[str | None] = mapped_column(String(16))
    source_file_id: Mapped[str | None] = mapped_column(String(255))


class KnowledgeOutcome(Base):
    """"Did you apply it?": one question to a practitioner about one resolved ticket or helpful FAQ answer.

    The row is written when the question is asked; the unique key asks it once per resolve (or answer),
    across restarts and replicas.
    """

    __tablename__ = "knowledge_outcome"
    __table_args__ = (UniqueConstraint("source", "source_id", "basis_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(8))  # "ticket" or "faq"
    source_id: Mapped[int] = mapped_column(BigInteger)  # the ticket, or the message the FAQ answer answered
    basis_at: Mapped[datetime]  # the resolve, or the FAQ answer, the question follows up
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    entry_id: Mapped[str | None] = mapped_column(String(96), index=True)  # FAQ entry, or the ticket's draft's
    queue_id: Mapped[str | None] = mapped_column(String(32))
    asked_at: Mapped[datetime] = mapped_column(index=True)
    answer: Mapped[str | None] = mapped_column(String(8))  # applied, partly, not_yet, no
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]


class TopicSubscription(Base):
    """A practitioner's subscription to a queue's (topic's) digest of what was learnt."""

    __tablename__ = "topic_subscription"
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    queue_id: Mapped[str] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime]


class DigestRound(Base):
    """One subscriber's digest of one period, handled once (sent, or nothing new); the key makes it once."""

    __tablename__ = "digest_round"
    __table_args__ = (UniqueConstraint("person_id", "period"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    period: Mapped[date] = mapped_column(Date)  # the local day the period's digest falls due
    listed: Mapped[int] = mapped_column(Integer, default=0)  # entries listed (0: nothing new, not sent)
    handled_at: Mapped[datetime]
