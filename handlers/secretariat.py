"""The secretariat's flow: counts, moving tickets between queues, the experts' status."""

from __future__ import annotations

from datetime import timedelta

from bot.core import kb_drafts, oversight, tickets
from bot.core.context import Context
from bot.core.knowledge import load_entries
from bot.core.reports import ALL, Figures, hours_text, percent_text, sla_report
from bot.core.router import SECRETARIAT, Router, command_args
from handlers.expert import is_open, ticket_arg

SECRETARIAT_ONLY = frozenset({SECRETARIAT})
STATS_DAYS = 30  # /stats shows the service levels of the tickets opened in this many days


def sla_line(ctx: Context, figures: Figures) -> str:
    """One queue's service levels (or all queues') in a line of /stats."""
    return ctx.t("stats.sla_line", queue=ctx.t("stats.overall") if figures.queue == ALL else figures.queue,
                 tickets=figures.tickets, first=percent_text(figures.first_response_pct),
                 resolution=percent_text(figures.resolution_pct), median=hours_text(figures.median_hours),
                 p90=hours_text(figures.p90_hours), breaches=figures.breaches, warnings=figures.warnings,
                 escalations=figures.escalations, backlog=sum(figures.backlog.values()))


def register(router: Router) -> None:
    """Register the secretariat's flows."""

    @router.command("stats", roles=SECRETARIAT_ONLY, help_key="help.cmd.stats")
    async def stats(ctx: Context) -> None:
        by_queue = await oversight.ticket_counts(ctx)
        lines = [ctx.t("stats.header")]
        for queue in ctx.services.config.queue_ids:
            counts = by_queue.get(queue, {})
            lines.append(ctx.t("stats.line", queue=queue, new=counts.get("new", 0), open=counts.get("open", 0),
                               waiting=counts.get("waiting", 0), resolved=counts.get("resolved", 0)
                               + counts.get("closed", 0)))
        since = (ctx.now - timedelta(days=STATS_DAYS)).date()
        report = await sla_report(ctx.conn, ctx.services.config, ctx.services.sla, ctx.now, since=since)
        lines += ["", ctx.t("stats.sla_header", days=STATS_DAYS, target=report.target)]
        lines += [sla_line(ctx, figures) for figures in report.rows]
        ctx.reply("\n".join(lines))

    async def do_move(ctx: Context, ticket_id: int, queue: str) -> None:
        ticket = await tickets.fetch(ctx, ticket_id)
        if ticket is None or not is_open(ctx, ticket):
            return
        if queue not in ctx.services.config.queue_ids:
            tickets.refuse(ctx, ticket_id, "ticket.unknown_target", target=queue)
            return
        await tickets.move(ctx, ticket, queue, ctx.t("ticket.moved_by", name=ctx.person.display_name))
        ctx.reply(ctx.t("ticket.transferred", id=ticket_id, target=queue))

    @router.command("move", roles=SECRETARIAT_ONLY, help_key="help.cmd.move")
    async def move(ctx: Context) -> None:
        arg = ticket_arg(ctx, "/move N QUEUE")
        if arg is not None:
            await do_move(ctx, arg[0], arg[1].upper())

    @router.action("move", roles=SECRETARIAT_ONLY)
    async def move_button(ctx: Context, args: list[str]) -> None:
        await do_move(ctx, int(args[0]), args[1])

    async def set_blocked(ctx: Context, blocked: bool) -> None:
        target = command_args(ctx).split(" ")[0]
        if target.startswith("@") or target.lstrip("#").isdigit():
            person = await oversight.person_named(ctx, target)
        else:
            ctx.reply(ctx.t("usage.generic", usage=f"/{'block' if blocked else 'unblock'} TICKET|@handle"))
            return
        if person is None or person == ctx.person.id:
            ctx.reply(ctx.t("block.unknown", target=target))
            return
        await oversight.set_blocked(ctx, person, blocked)
        ctx.reply(ctx.t("block.done" if blocked else "block.undone", target=target))

    @router.command("block", roles=SECRETARIAT_ONLY, help_key="help.cmd.block")
    async def block(ctx: Context) -> None:
        await set_blocked(ctx, True)

    @router.command("unblock", roles=SECRETARIAT_ONLY, help_key="help.cmd.unblock")
    async def unblock(ctx: Context) -> None:
        await set_blocked(ctx, False)

    @router.command("experts", roles=SECRETARIAT_ONLY, help_key="help.cmd.experts")
    async def experts(ctx: Context) -> None:
        lines = [ctx.t("experts.header")]
        for m in await oversight.roster(ctx):
            away = ctx.t("experts.away") if m.away_until and m.away_until > ctx.now else ""
            lines.append(ctx.t("experts.line", who=f"{m.display_name} (@{m.handle}){away}", queues=", ".join(m.queues),
                               load=m.load))
        ctx.reply("\n".join(lines))

    @router.command("drafts", roles=SECRETARIAT_ONLY, help_key="help.cmd.drafts")
    async def drafts(ctx: Context) -> None:
        pending = await kb_drafts.drafts(ctx.conn)
        if not pending:
            ctx.reply(ctx.t("kb.drafts_none"))
            return
        for d in pending:
            ctx.reply(ctx.t("kb.drafts_line", id=d.id, queue=d.queue_id, lang=d.lang, ticket=d.ticket_id,
                            question=d.question),
                      [ctx.button(ctx.t("kb.approve_button"), "kbapprove", d.id),
                       ctx.button(ctx.t("kb.reject_button"), "kbreject", d.id)])

    @router.action("kbapprove", roles=SECRETARIAT_ONLY)
    async def approve_draft(ctx: Context, args: list[str]) -> None:
        draft_id = int(args[0])
        try:
            entry = await kb_drafts.approve(ctx.conn, ctx.services.config, draft_id, ctx.person.id, ctx.now)
        except kb_drafts.DraftError:
            ctx.reply(ctx.t("kb.not_pending", id=draft_id))
            return
        # the new entry is visible in this transaction: the matcher picks it up at once
        ctx.services.kb = ctx.services.kb.rebuilt(await load_entries(ctx.conn))
        ctx.audit("kb.approve", draft=draft_id, entry=entry.id)
        ctx.reply(ctx.t("kb.approved", id=draft_id, entry=entry.id))

    @router.action("kbreject", roles=SECRETARIAT_ONLY)
    async def reject_draft(ctx: Context, args: list[str]) -> None:
        draft_id = int(args[0])
        try:
            await kb_drafts.reject(ctx.conn, draft_id, ctx.person.id, ctx.now)
        except kb_drafts.DraftError:
            ctx.reply(ctx.t("kb.not_pending", id=draft_id))
            return
        ctx.audit("kb.reject", draft=draft_id)
        ctx.reply(ctx.t("kb.rejected", id=draft_id))
