"""The expert's flow: see the queue, claim, answer, note, wait, transfer, release, resolve; be away."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from bot.config import parse_quiet_hours
from bot.core import staff, tickets
from bot.core.calendar import CalendarError, QuietHours
from bot.core.context import Context
from bot.core.conversation import Waiting
from bot.core.router import EXPERT, SECRETARIAT, STAFF, Router, command_args
from bot.core.spaces import secretariat_spaces
from bot.core.tickets import TicketView
from bot.i18n import t

FOREVER = timedelta(days=3650)


QUIET_USAGE = "/quiet [22:00-07:00|default] [Europe/Paris]"


def quiet_changes(words: list[str]) -> dict[str, str | None] | None:
    """'/quiet 22:00-07:00 Europe/Paris' as person columns (None for a word it cannot read)."""
    changes: dict[str, str | None] = {}
    for word in words:
        try:
            if word == "default":
                changes["quiet_hours"] = None
            elif word[:1].isdigit():
                parse_quiet_hours(word)
                changes["quiet_hours"] = word
            else:
                QuietHours(word)
                changes["timezone"] = word
        except (ValueError, CalendarError):
            return None
    return changes


def ticket_arg(ctx: Context, usage: str) -> tuple[int, str] | None:
    """'/cmd 12 rest' -> (12, 'rest'); a usage hint when the number is missing."""
    match = tickets.TICKET_ARG.match(command_args(ctx))
    if match is None:
        ctx.reply(ctx.t("usage.generic", usage=usage))
        return None
    return int(match.group(1)), match.group(2).strip()


async def current_ticket(ctx: Context) -> int | None:
    """Which ticket a free-text message from an expert is about."""
    replied = await tickets.ticket_of_reply(ctx)
    if replied is not None:
        return replied
    if ctx.conversation.state == Waiting.TICKET:
        return int(ctx.conversation.data["id"])
    held = await staff.held_ticket_ids(ctx)
    return held[0] if len(held) == 1 else None


def line(ctx: Context, v: TicketView) -> str:
    """One ticket in a list."""
    who = f" · {v.assignee_name}" if v.assignee_name else ""
    return ctx.t("ticket.staff_line", id=v.id, queue=v.queue_id, priority=v.priority, state=v.state, who=who,
                 question=v.question[:70])


def list_tickets(ctx: Context, views: list[TicketView], empty_key: str) -> None:
    ctx.reply("\n".join(line(ctx, v) for v in views) if views else ctx.t(empty_key))


async def _permitted(ctx: Context, ticket_id: int, allowed: Callable[[Context, TicketView], Awaitable[bool]],
                     refusal: str) -> TicketView | None:
    """The ticket when `allowed` says the sender may act on it, else a refusal (or 'no such ticket')."""
    ticket = await tickets.fetch(ctx, ticket_id)
    if ticket is None:
        return None
    if not await allowed(ctx, ticket):
        tickets.refuse(ctx, ticket_id, refusal)
        return None
    return ticket


async def held(ctx: Context, ticket_id: int) -> TicketView | None:
    """The ticket when the sender may handle it (assignee, lead or secretariat), else a refusal."""
    return await _permitted(ctx, ticket_id, tickets.may_handle, "ticket.not_yours")


async def led(ctx: Context, ticket_id: int) -> TicketView | None:
    """The ticket when the sender leads its queue or is secretariat, else a refusal."""
    return await _permitted(ctx, ticket_id, tickets.may_lead, "ticket.leads_only")


async def acting_on(ctx: Context, usage: str, permitted: Callable[[Context, int], Awaitable[TicketView | None]] = held,
                    must_be_open: bool = True) -> tuple[TicketView, str] | None:
    """The ticket a '/cmd N rest' command acts on and the rest of its text: the number read (else the usage),
    the sender permitted (`held` or `led`, else a refusal) and the ticket open (else it says so)."""
    arg = ticket_arg(ctx, usage)
    ticket = await permitted(ctx, arg[0]) if arg else None
    if arg is None or ticket is None or (must_be_open and not is_open(ctx, ticket)):
        return None
    return ticket, arg[1]


def is_open(ctx: Context, ticket: TicketView) -> bool:
    if ticket.state in ("resolved", "closed"):
        tickets.refuse(ctx, ticket.id, "ticket.is_closed", state=ctx.t(f"state.{ticket.state}"))
        return False
    return True


async def transfer(ctx: Context, ticket: TicketView, target: str, reason: str) -> None:
    """To another queue (by id) or another expert (by @handle)."""
    if target.upper() in ctx.services.config.queue_ids:
        await tickets.move(ctx, ticket, target.upper(), reason)
        ctx.reply(ctx.t("ticket.transferred", id=ticket.id, target=target.upper()))
        return
    expert = await staff.staff_by_handle(ctx, target)
    if expert is None:
        tickets.refuse(ctx, ticket.id, "ticket.unknown_target", target=target)
        return
    await tickets.assign(ctx, ticket, expert, reason)
    ctx.reply(ctx.t("ticket.transferred", id=ticket.id, target=target))


def register(router: Router) -> None:
    """Register the expert flows."""

    @router.text(EXPERT)
    async def expert_text(ctx: Context) -> None:
        text = ctx.msg.text.strip()
        ticket_id = await current_ticket(ctx)
        if ticket_id is None:
            ctx.reply(ctx.t("expert.which_ticket"))
            return
        ticket = await tickets.fetch(ctx, ticket_id)
        if ticket is None:
            return
        if text.startswith("//"):
            if await tickets.may_work(ctx, ticket):
                await tickets.add_note(ctx, ticket, text[2:].strip())
                await tickets.record_message(ctx, ticket.id, internal=True)
                ctx.reply(ctx.t("note.saved", id=ticket.id))
            else:
                tickets.refuse(ctx, ticket_id, "ticket.not_your_queue", queue=ticket.queue_id)
            return
        if ticket.assignee_id != ctx.person.id:
            tickets.refuse(ctx, ticket_id, "ticket.not_yours")
            return
        if not is_open(ctx, ticket):
            return
        await tickets.relay_to_practitioner(ctx, ticket, text, ctx.msg.attachments)

    router.texts[SECRETARIAT] = expert_text

    @router.command("reply", roles=STAFF, help_key="help.cmd.reply")
    async def reply(ctx: Context) -> None:
        acting = await acting_on(ctx, "/reply N text")
        if acting is None:
            return
        ticket, text = acting
        if not text:
            ctx.reply(ctx.t("usage.generic", usage="/reply N text"))
            return
        await tickets.relay_to_practitioner(ctx, ticket, text, ctx.msg.attachments)

    @router.command("queue", roles=STAFF, help_key="help.cmd.queue")
    async def queue(ctx: Context) -> None:
        list_tickets(ctx, await staff.unclaimed_tickets(ctx), "ticket.queue_empty")

    @router.command("mine", roles=STAFF, help_key="help.cmd.mine")
    async def mine(ctx: Context) -> None:
        list_tickets(ctx, await staff.held_tickets(ctx), "ticket.mine_empty")

    @router.command("claim", roles=STAFF, help_key="help.cmd.claim")
    async def claim_cmd(ctx: Context) -> None:
        arg = ticket_arg(ctx, "/claim N")
        if arg is not None:
            await tickets.claim(ctx, arg[0])

    @router.action("claim", roles=STAFF)
    async def claim_button(ctx: Context, args: list[str]) -> None:
        await tickets.claim(ctx, int(args[0]))

    @router.command("release", roles=STAFF, help_key="help.cmd.release")
    async def release(ctx: Context) -> None:
        acting = await acting_on(ctx, "/release N [reason]")
        if acting is None:
            return
        ticket, reason = acting
        if ticket.assignee_id is None:
            tickets.refuse(ctx, ticket.id, "ticket.not_claimed")
            return
        await tickets.release(ctx, ticket, reason)
        ctx.expect_nothing()
        ctx.reply(ctx.t("ticket.released", id=ticket.id, queue=ticket.queue_id))

    @router.command("transfer", roles=STAFF, help_key="help.cmd.transfer")
    async def transfer_cmd(ctx: Context) -> None:
        arg = ticket_arg(ctx, "/transfer N QUEUE|@expert reason")
        if arg is None:
            return
        target, _, reason = arg[1].partition(" ")
        if not target or not reason.strip():
            ctx.reply(ctx.t("usage.generic", usage="/transfer N QUEUE|@expert reason"))
            return
        ticket = await tickets.fetch(ctx, arg[0])
        if ticket is None or not is_open(ctx, ticket):
            return
        allowed = await tickets.may_handle(ctx, ticket) or (
            ticket.assignee_id is None and await tickets.may_work(ctx, ticket))
        if not allowed:
            tickets.refuse(ctx, ticket.id, "ticket.not_yours")
            return
        await transfer(ctx, ticket, target, reason.strip())

    @router.action("xfer", roles=STAFF)
    async def transfer_button(ctx: Context, args: list[str]) -> None:
        ticket = await tickets.fetch(ctx, int(args[0]))
        if ticket is None or not is_open(ctx, ticket):
            return
        if not await tickets.may_work(ctx, ticket):
            tickets.refuse(ctx, ticket.id, "ticket.not_your_queue", queue=ticket.queue_id)
            return
        buttons = [ctx.button(q.id, "xferq", ticket.id, q.id) for q in ctx.services.config.queues
                   if q.id != ticket.queue_id]
        ctx.reply(ctx.t("ticket.transfer_where", id=ticket.id), buttons)

    @router.action("xferq", roles=STAFF)
    async def transfer_to_queue(ctx: Context, args: list[str]) -> None:
        ticket = await tickets.fetch(ctx, int(args[0]))
        if ticket is None or not is_open(ctx, ticket):
            return
        if ticket.queue_id == args[1]:
            ctx.reply(ctx.t("error.stale_button"))
            return
        if not (await tickets.may_handle(ctx, ticket) or (ticket.assignee_id is None
                                                           and await tickets.may_work(ctx, ticket))):
            tickets.refuse(ctx, ticket.id, "ticket.not_yours")
            return
        await transfer(ctx, ticket, args[1], ctx.t("ticket.transfer_by_button", name=ctx.person.display_name))

    @router.action("notours", roles=STAFF)
    async def not_for_us(ctx: Context, args: list[str]) -> None:
        ticket = await tickets.fetch(ctx, int(args[0]))
        if ticket is None or not is_open(ctx, ticket):
            return
        if not await tickets.may_work(ctx, ticket):
            tickets.refuse(ctx, ticket.id, "ticket.not_your_queue", queue=ticket.queue_id)
            return
        ctx.audit("ticket.not_for_us", ticket_id=ticket.id, queue=ticket.queue_id)
        lang = ctx.services.config.service.default_language
        buttons = [ctx.button(q.id, "move", ticket.id, q.id) for q in ctx.services.config.queues
                   if q.id != ticket.queue_id]
        for space in secretariat_spaces(ctx.services.config):
            ctx.send(space.channel, space.chat, t("ticket.declined", lang, id=ticket.id, queue=ticket.queue_id,
                                                  name=ctx.person.display_name, question=ticket.question),
                     buttons, ticket_id=ticket.id)
        ctx.reply(ctx.t("ticket.declined_ack", id=ticket.id))

    @router.command("note", roles=STAFF, help_key="help.cmd.note")
    async def note(ctx: Context) -> None:
        arg = ticket_arg(ctx, "/note N text")
        if arg is None:
            return
        ticket = await tickets.fetch(ctx, arg[0])
        if ticket is None:
            return
        if not await tickets.may_work(ctx, ticket):
            tickets.refuse(ctx, ticket.id, "ticket.not_your_queue", queue=ticket.queue_id)
            return
        if not arg[1]:
            ctx.reply(ctx.t("usage.generic", usage="/note N text"))
            return
        await tickets.add_note(ctx, ticket, arg[1])
        await tickets.record_message(ctx, ticket.id, internal=True)
        ctx.reply(ctx.t("note.saved", id=ticket.id))

    @router.command("wait", roles=STAFF, help_key="help.cmd.wait")
    async def wait(ctx: Context) -> None:
        acting = await acting_on(ctx, "/wait N")
        if acting is None:
            return
        ticket = acting[0]
        if ticket.state != "open":
            tickets.refuse(ctx, ticket.id, "ticket.is_closed", state=ctx.t(f"state.{ticket.state}"))
            return
        await tickets.wait_for_practitioner(ctx, ticket)
        ctx.reply(ctx.t("ticket.now_waiting", id=ticket.id))

    async def close(ctx: Context, *, out_of_scope: bool) -> None:
        """/resolve N summary (the summary becomes an FAQ draft) or /outofscope N [note] (no draft)."""
        acting = await acting_on(ctx, "/outofscope N [note]" if out_of_scope else "/resolve N summary")
        if acting is None:
            return
        ticket, summary = acting
        if not out_of_scope and len(summary) < 10:
            ctx.reply(ctx.t("ticket.summary_needed"))
            return
        await tickets.resolve(ctx, ticket, summary, out_of_scope=out_of_scope)
        ctx.expect_nothing()
        ctx.reply(ctx.t("ticket.out_of_scope_ack" if out_of_scope else "ticket.resolved_ack", id=ticket.id))

    @router.command("resolve", roles=STAFF, help_key="help.cmd.resolve")
    async def resolve(ctx: Context) -> None:
        await close(ctx, out_of_scope=False)

    @router.command("outofscope", roles=STAFF, help_key="help.cmd.outofscope")
    async def out_of_scope(ctx: Context) -> None:
        await close(ctx, out_of_scope=True)

    @router.command("open", roles=STAFF, help_key="help.cmd.open")
    async def focus(ctx: Context) -> None:
        acting = await acting_on(ctx, "/open N", must_be_open=False)
        if acting is None:
            return
        ticket = acting[0]
        ctx.expect(Waiting.TICKET, id=ticket.id)
        ctx.reply(ctx.t("expert.focus", id=ticket.id, question=ticket.question,
                        who=ticket.who))

    @router.command("away", roles=STAFF, help_key="help.cmd.away")
    async def away(ctx: Context) -> None:
        text = command_args(ctx).removeprefix("until").strip()
        until = ctx.now + FOREVER
        if text:
            try:
                until = datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
            except ValueError:
                ctx.reply(ctx.t("usage.generic", usage="/away [until YYYY-MM-DD]"))
                return
        await staff.set_away(ctx, until)
        ctx.audit("expert.away", until=until.isoformat())
        ctx.reply(ctx.t("expert.away", until=until.date().isoformat()) if text else ctx.t("expert.away_open"))

    @router.command("back", roles=STAFF, help_key="help.cmd.back")
    async def back(ctx: Context) -> None:
        await staff.set_away(ctx, None)
        ctx.audit("expert.back")
        ctx.reply(ctx.t("expert.back"))

    @router.command("quiet", roles=STAFF, help_key="help.cmd.quiet")
    async def quiet(ctx: Context) -> None:
        changes = quiet_changes(command_args(ctx).split())
        if changes is None:
            ctx.reply(ctx.t("usage.generic", usage=QUIET_USAGE))
            return
        hours, timezone = await staff.set_quiet(ctx, changes)
        if changes:
            ctx.audit("expert.quiet", changes=changes)
        levels = ctx.services.config.service_levels
        ctx.reply(ctx.t("expert.quiet", hours=hours or levels.quiet_hours, timezone=timezone,
                        weekends=ctx.t("expert.quiet_weekends") if levels.quiet_weekends else "",
                        minutes=levels.digest_minutes))

    @router.command("assign", roles=STAFF, help_key="help.cmd.assign")
    async def assign(ctx: Context) -> None:
        acting = await acting_on(ctx, "/assign N @expert", led)
        if acting is None:
            return
        ticket, target = acting
        expert = await staff.staff_by_handle(ctx, target.split(" ")[0]) if target else None
        if expert is None:
            tickets.refuse(ctx, ticket.id, "ticket.unknown_target", target=target or "?")
            return
        await tickets.assign(ctx, ticket, expert, ctx.t("ticket.assigned_by", name=ctx.person.display_name))
        ctx.reply(ctx.t("ticket.transferred", id=ticket.id, target=target.split(" ")[0]))

    @router.command("priority", roles=STAFF, help_key="help.cmd.priority")
    async def priority(ctx: Context) -> None:
        acting = await acting_on(ctx, "/priority N low|normal|high|urgent", led, must_be_open=False)
        if acting is None:
            return
        ticket, level = acting[0], acting[1].lower()
        if level not in tickets.PRIORITIES:
            ctx.reply(ctx.t("usage.generic", usage="/priority N low|normal|high|urgent"))
            return
        await tickets.set_priority(ctx, ticket, level)
        ctx.reply(ctx.t("ticket.priority_set", id=ticket.id, level=level))
