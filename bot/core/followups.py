"""Follow-ups: a practitioner's message about a resolved or closed ticket reopens it (within `reopen_days`) or,
after the window, opens a new ticket linked to it."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core import tickets
from bot.core.context import Context
from bot.core.labels import TICKET_LABEL, distinct_labels
from bot.core.messages import Attachment
from bot.core.tickets import OPEN_STATES, TicketView

ENDED_STATES = ("resolved", "closed")


_THANKS = ("thank", "thx", "gracias", "agradezco", "agradecid", "merci", "remercie")
_MOST_THANKS_WORDS = 12


def is_thanks(text: str) -> bool:
    """A short thank-you without a question ("Thank you, that helps a lot", "Muchas gracias, muy útil")."""
    plain = text.lower()
    return ("?" not in plain and len(plain.split()) <= _MOST_THANKS_WORDS
            and any(word in plain for word in _THANKS))


def which_ticket(ctx: Context, key: str, views: Sequence[TicketView]) -> None:
    """Ask which of these tickets the current message is about (or whether it is a new question)."""
    labels = distinct_labels([f"#{v.id} {v.question}" for v in views[:5]], TICKET_LABEL)
    buttons = [ctx.button(label, "to", ctx.message_id, v.id) for label, v in zip(labels, views, strict=False)]
    buttons.append(ctx.button(ctx.t("ticket.new_question_button"), "newq", ctx.message_id))
    ctx.reply(ctx.t(key), buttons)


async def replied_ticket(ctx: Context) -> TicketView | None:
    """The sender's own ticket of the bot message they replied to (Telegram reply, Slack thread), if any."""
    ticket_id = await tickets.ticket_of_reply(ctx)
    ticket = None if ticket_id is None else await tickets.load(ctx.conn, ticket_id)
    return ticket if ticket is not None and ticket.person_id == ctx.person.id else None


def may_continue(ctx: Context, ticket: TicketView) -> bool:
    """May the sender add a message to this ticket of theirs (open, or ended and so reopened or followed up)?"""
    return ticket.person_id == ctx.person.id and ticket.state in (*OPEN_STATES, *ENDED_STATES)


async def add_message(ctx: Context, ticket: TicketView, text: str, files: Sequence[Attachment]) -> bool:
    """Add the practitioner's message to a ticket, reopening it (or following it up) when it had ended.

    True when the practitioner was told already (reopened or followed up), False for a plain addition.
    """
    if ticket.state in OPEN_STATES:
        await tickets.relay_to_experts(ctx, ticket, text, files)
        return False
    if not tickets.within_reopen_window(ctx.services.config.service, ticket, ctx.now):
        await tickets.reopen(ctx, ticket, question=text or ticket.question)
        return True
    reopened = await tickets.reopen(ctx, ticket)
    if reopened is not None:
        await tickets.relay_to_experts(ctx, reopened, text, files)
    return True


async def follow_up(ctx: Context, text: str) -> bool:
    """Handle a message of a practitioner without open tickets that follows up an ended one; False when it
    does not (it is a new question).

    A reply to a message of an ended ticket continues that ticket; otherwise the one ticket resolved or closed
    within the reopen window is reopened, and with several the practitioner is asked which one.
    """
    replied = await replied_ticket(ctx)
    if replied is not None and replied.state in ENDED_STATES:
        await add_message(ctx, replied, text, ctx.msg.attachments)
        return True
    if ctx.ticketless:
        return False
    ended = await tickets.recently_ended(ctx)
    if ended and is_thanks(text) and not ctx.msg.attachments:  # not a follow-up: nobody is called back for it
        ctx.reply(ctx.t("followup.thanks", id=ended[0].id, days=ctx.services.config.service.reopen_days))
        return True
    if len(ended) == 1:
        await add_message(ctx, ended[0], text, ctx.msg.attachments)
    elif ended:
        which_ticket(ctx, "followup.which_one", ended)
    return bool(ended)
