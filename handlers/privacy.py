"""A practitioner's own data: /mydata exports it, /forgetme erases it after a confirmation."""

from __future__ import annotations

import json

from bot.core.context import Context
from bot.core.outbox import SCRUB
from bot.core.privacy import erase_person, export_person
from bot.core.router import PRACTITIONER, Router

ASKER = frozenset({PRACTITIONER})


def register(router: Router) -> None:
    """Register the privacy commands."""

    @router.command("mydata", roles=ASKER, help_key="help.cmd.mydata")
    async def my_data(ctx: Context) -> None:
        data = await export_person(ctx.conn, ctx.person.id)
        ctx.audit("privacy.export", by="self")
        ctx.reply(ctx.t("privacy.export_intro", messages=ctx.t("count.messages", n=len(data["messages"])),
                        tickets=ctx.t("count.questions", n=len(data["tickets"]))))
        ctx.reply(json.dumps(data, ensure_ascii=False, indent=1, default=str))

    @router.command("forgetme", roles=ASKER, help_key="help.cmd.forgetme")
    async def forget_me(ctx: Context) -> None:
        ctx.reply(ctx.t("privacy.confirm"), [ctx.button(ctx.t("privacy.yes"), "forget", ctx.person.id),
                                             ctx.button(ctx.t("privacy.no"), "keep", ctx.person.id)])

    @router.action("forget", roles=ASKER)
    async def forget(ctx: Context, args: list[str]) -> None:
        if int(args[0]) != ctx.person.id:
            ctx.reply(ctx.t("error.stale_button"))
            return
        counts = await erase_person(ctx.conn, ctx.person.id, ctx.now, ctx.services.files)
        ctx.effects.reads.clear()  # their tickets were rewritten
        ctx.audit("privacy.erase", by="self", counts=counts)
        ctx.expect_nothing()
        ctx.send(ctx.msg.channel, ctx.msg.chat_id, ctx.t("privacy.erased"), ref=SCRUB)

    @router.action("keep", roles=ASKER)
    async def keep(ctx: Context, args: list[str]) -> None:
        ctx.reply(ctx.t("privacy.kept"))
