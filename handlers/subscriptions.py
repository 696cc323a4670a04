"""Topic subscriptions: /subscribe shows the queues as buttons to tap on and off; a digest's button unsubscribes
in one tap (the digest itself is sent by the scheduler, bot.core.digest)."""

from __future__ import annotations

from bot.core import digest
from bot.core.context import Context
from bot.core.router import PRACTITIONER, Router

ASKER = frozenset({PRACTITIONER})


async def menu(ctx: Context) -> None:
    """The queues as buttons, ✓ on those the sender is subscribed to."""
    mine = await digest.subscribed(ctx.conn, ctx.person.id)
    buttons = [ctx.button(("✓ " if q.id in mine else "") + q.name, "sub", q.id) for q in ctx.services.config.queues]
    state = ctx.t("digest.menu_some", queues=", ".join(mine)) if mine else ctx.t("digest.menu_none")
    ctx.reply(ctx.t("digest.menu") + "\n" + state, buttons)


def register(router: Router) -> None:
    """Register /subscribe and its buttons."""

    @router.command("subscribe", roles=ASKER, help_key="digest.help")
    async def subscribe(ctx: Context) -> None:
        await menu(ctx)

    @router.action("sub", roles=ASKER)
    async def toggle(ctx: Context, args: list[str]) -> None:
        queue = args[0]
        if queue not in ctx.services.config.queue_ids:
            ctx.reply(ctx.t("error.stale_button"))
            return
        if await digest.toggle(ctx, queue):
            weekday = ctx.t(f"digest.weekday.{ctx.services.config.learning.digest_weekday}")
            ctx.reply(ctx.t("digest.subscribed", queue=queue, weekday=weekday))
        else:
            ctx.reply(ctx.t("digest.unsubscribed", queue=queue))

    @router.action("unsub", roles=ASKER)
    async def unsubscribe(ctx: Context, args: list[str]) -> None:
        queue = args[0]
        key = "digest.unsubscribed" if await digest.unsubscribe(ctx, queue) else "digest.not_subscribed"
        ctx.reply(ctx.t(key, queue=queue))
