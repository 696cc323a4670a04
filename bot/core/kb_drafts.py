"""FAQ drafts from resolved tickets: created on resolve, reviewed by the secretariat, approved into entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import ServiceConfig
from bot.core.context import Context
from bot.core.knowledge import import_entries
from bot.core.spaces import secretariat_spaces
from bot.db.driver import insert_rows
from bot.db.models import KBDraft, table
from bot.i18n import t
from kb.entry import KBEntry

D = table(KBDraft)
# Where an expert's answer comes from, until the reviewer gives a better source (`kb approve --source`).
DRAFT_SOURCE = "https://ledsgp.org/"
REVIEW_AFTER = timedelta(days=365)  # an approved draft is due for review after a year


class DraftError(ValueError):
    """The draft does not exist or was already reviewed."""


@dataclass(frozen=True)
class Draft:
    """A proposed FAQ entry."""

    id: int
    ticket_id: int | None
    queue_id: str
    lang: str
    question: str
    answer: str
    status: str
    entry_id: str | None
    created_at: datetime


_COLUMNS = (D.c.id, D.c.ticket_id, D.c.queue_id, D.c.lang, D.c.question, D.c.answer, D.c.status, D.c.entry_id,
            D.c.created_at)


def create_draft(ctx: Context, ticket_id: int, queue_id: str, lang: str, question: str, summary: str) -> None:
    """Store a draft from a resolved ticket and post it to the secretariat with Approve / Reject buttons.

    Written at the end of the batch, with the batch's other drafts (one insert for all: `Effects.settle`).
    """
    pending = ctx.effects.deferred.get("kb_drafts")
    if not isinstance(pending, _NewDrafts):
        pending = ctx.effects.deferred["kb_drafts"] = _NewDrafts()
    pending.drafts.append((ctx, {"ticket_id": ticket_id, "queue_id": queue_id, "lang": lang, "question": question,
                                 "answer": summary, "status": "pending", "created_at": ctx.now}))


async def draft_from_ticket(ctx: Context, ticket_id: int, queue_id: str, lang: str, question: str, summary: str,
                            resolved_before: bool) -> None:
    """The FAQ draft of a resolved ticket: one per ticket.

    The first resolve creates it; a re-resolve (`resolved_before`) revises the ticket's draft and puts it up
    for review again: a pending draft gets the new answer, an approved one becomes its entry's next version
    when approved again (a rejected one is proposed anew).
    """
    found = None
    if resolved_before:
        found = (await ctx.conn.execute(select(D.c.id, D.c.entry_id).where(D.c.ticket_id == ticket_id)
                                        .order_by(D.c.id.desc()).limit(1))).first()
    if found is None:
        create_draft(ctx, ticket_id, queue_id, lang, question, summary)
        return
    await ctx.conn.execute(update(D).where(D.c.id == found.id).values(
        question=question, answer=summary, status="pending", reviewed_by=None, reviewed_at=None))
    key = "draft.revised" if found.entry_id is None else "draft.next_version"
    _post(ctx, found.id, key, {"ticket_id": ticket_id, "queue_id": queue_id, "lang": lang, "question": question,
                               "answer": summary}, entry=found.entry_id)
    ctx.audit("kb.draft_revised", ticket_id=ticket_id, draft=found.id, entry=found.entry_id)


def _post(ctx: Context, draft_id: int, key: str, row: dict[str, Any], **values: object) -> None:
    """Show a draft to the secretariat with Approve / Reject buttons."""
    lang_ui = ctx.services.config.service.default_language
    text = t(key, lang_ui, id=draft_id, ticket=row["ticket_id"], queue=row["queue_id"], lang=row["lang"],
             question=row["question"], answer=row["answer"], **values)
    buttons = [ctx.button(t("kb.approve_button", lang_ui), "kbapprove", draft_id),
               ctx.button(t("kb.reject_button", lang_ui), "kbreject", draft_id)]
    for space in secretariat_spaces(ctx.services.config):
        ctx.send(space.channel, space.chat, text, buttons, ticket_id=row["ticket_id"])


@dataclass
class _NewDrafts:
    """The drafts of one batch, inserted together; each then posted and audited as its own message's."""

    drafts: list[tuple[Context, dict[str, Any]]] = field(default_factory=list)

    async def __call__(self, conn: AsyncConnection) -> None:
        ids = await insert_rows(conn, D, [row for _, row in self.drafts], ids=True)
        for (ctx, row), draft_id in zip(self.drafts, ids, strict=True):
            _post(ctx, draft_id, "kb.draft_posted", row)
            ctx.audit("kb.draft", ticket_id=row["ticket_id"], draft=draft_id)


async def drafts(conn: AsyncConnection, status: str | None = "pending") -> list[Draft]:
    """Drafts with this status (all with None), oldest first."""
    query = select(*_COLUMNS).order_by(D.c.id)
    if status is not None:
        query = query.where(D.c.status == status)
    return [Draft(**r._mapping) for r in await conn.execute(query)]


async def _pending(conn: AsyncConnection, draft_id: int) -> Draft:
    row = (await conn.execute(select(*_COLUMNS).where(D.c.id == draft_id))).first()
    if row is None:
        raise DraftError(f"no draft #{draft_id}")
    if row.status != "pending":
        raise DraftError(f"draft #{draft_id} is already {row.status}")
    return Draft(**row._mapping)


def draft_entry(draft: Draft, config: ServiceConfig, now: datetime, source: str = DRAFT_SOURCE) -> KBEntry:
    """The FAQ entry an approved draft becomes (owned by the queue's first lead)."""
    try:
        leads = config.queue(draft.queue_id).leads
    except KeyError:
        leads = []
    return KBEntry(id=f"draft-{draft.id}", question=draft.question.strip(), answer=draft.answer.strip(),
                   queue=draft.queue_id, lang=draft.lang, source=source, owner=leads[0] if leads else "",
                   review_by=(now + REVIEW_AFTER).date(), origin=f"draft #{draft.id}")


async def approve(conn: AsyncConnection, config: ServiceConfig, draft_id: int, reviewer: int | None,
                  now: datetime, **changes: Any) -> KBEntry:
    """Turn a pending draft into a FAQ entry (version 1); ``changes``: question, answer, source."""
    draft = await _pending(conn, draft_id)
    edits = {k: v for k, v in changes.items() if k in ("question", "answer") and v}
    if edits:
        draft = Draft(**{**draft.__dict__, **edits})
    entry = draft_entry(draft, config, now, changes.get("source") or DRAFT_SOURCE)
    await import_entries(conn, [entry], now, retire_missing=False)
    await conn.execute(update(D).where(D.c.id == draft_id).values(
        status="approved", entry_id=entry.id, question=draft.question, answer=draft.answer,
        reviewed_by=reviewer, reviewed_at=now))
    return entry


async def reject(conn: AsyncConnection, draft_id: int, reviewer: int | None, now: datetime) -> None:
    """Mark a pending draft rejected."""
    await _pending(conn, draft_id)
    await conn.execute(update(D).where(D.c.id == draft_id).values(status="rejected", reviewed_by=reviewer,
                                                                  reviewed_at=now))
