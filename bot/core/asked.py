"""What a practitioner asked before: their own earlier messages and the FAQ decisions on them.

Buttons under the bot's replies name the message they answer; these services check the message is the
presser's own before anything is done with it, and record what the practitioner said of the FAQ answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from bot.core.context import Context
from bot.core.messages import Attachment
from bot.db.models import Message, TriageDecision, table

M = table(Message)
TD = table(TriageDecision)
SETTLED = ("dropped", "to_secretariat")  # what the practitioner chose for a question outside the queues


@dataclass(frozen=True)
class Asked:
    """One of the practitioner's own messages."""

    id: int
    text: str
    ticket_id: int | None
    attachments: tuple[Attachment, ...]


async def own_message(ctx: Context, message_id: int) -> Asked | None:
    """The sender's own message `message_id` (None for someone else's or a missing one)."""
    row = (await ctx.conn.execute(select(M.c.text, M.c.person_id, M.c.ticket_id, M.c.attachments)
                                  .where(M.c.id == message_id))).first()
    if row is None or row.person_id != ctx.person.id:
        return None
    files = tuple(Attachment(**a) for a in row.attachments or ())
    return Asked(message_id, str(row.text), row.ticket_id, files)


async def detach(ctx: Context, message_id: int) -> None:
    """The message belongs to no ticket (it is asked again as a new question)."""
    await ctx.conn.execute(update(M).where(M.c.id == message_id).values(ticket_id=None))


async def set_feedback(ctx: Context, message_id: int, feedback: str) -> bool:
    """Mark the FAQ decision on the sender's message (helped, false deflection, escalated); False when it is
    not the sender's."""
    result = await ctx.conn.execute(update(TD).where(TD.c.message_id == message_id, TD.c.person_id == ctx.person.id)
                                    .values(feedback=feedback))
    return bool(result.rowcount)


async def settle(ctx: Context, message_id: int, outcome: str) -> bool:
    """Record what the practitioner chose for a question no queue covers (dropped, sent to the secretariat);
    False when they already chose (a second press of the buttons)."""
    earlier = (await ctx.conn.execute(select(TD.c.feedback).where(TD.c.message_id == message_id))).scalar()
    if earlier in SETTLED:
        return False
    await set_feedback(ctx, message_id, outcome)
    return True


async def decision(ctx: Context, message_id: int) -> str | None:
    """What triage decided for the message (answer, suggest, escalate), None when nothing was decided."""
    return (await ctx.conn.execute(select(TD.c.decision).where(TD.c.message_id == message_id))).scalar()


async def pick(ctx: Context, message_id: int, n: int) -> str | None:
    """The FAQ entry of suggestion `n` under the sender's message, recorded as picked; None for a stale button
    (someone else's message, a suggestion that is not there, an entry that was retired)."""
    row = (await ctx.conn.execute(select(TD.c.candidates, TD.c.person_id)
                                  .where(TD.c.message_id == message_id))).first()
    if row is None or row.person_id != ctx.person.id or not 0 <= n < len(row.candidates):
        return None
    entry_id = str(row.candidates[n]["entry_id"])
    if entry_id not in ctx.services.kb.entries:
        return None
    await ctx.conn.execute(update(TD).where(TD.c.message_id == message_id)
                           .values(feedback=f"picked:{n}", top_entry_id=entry_id))
    ctx.audit("faq.pick", entry=entry_id)
    return entry_id
