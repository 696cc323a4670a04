"""Linking flows: one person on Telegram and Slack (/link), chats as queue spaces (/linkqueue), lost spaces."""

from __future__ import annotations

from bot.core import linking
from bot.core.context import Context
from bot.core.router import SECRETARIAT, Router, command_args
from bot.core.spaces import secretariat_spaces
from bot.i18n import t

SECRETARIAT_ONLY = frozenset({SECRETARIAT})
CODE_MINUTES = int(linking.CODE_TTL.total_seconds() // 60)


def register(router: Router) -> None:
    """Register the linking flows."""

    @router.command("link", help_key="help.cmd.link")
    async def link(ctx: Context) -> None:
        code = command_args(ctx)
        if not code:
            if ctx.msg.chat_type != "private":  # a code shown in a group could be used by anyone there
                ctx.reply(ctx.t("link.private_only"))
                return
            issued = await linking.new_code(ctx.conn, ctx.person.id, ctx.now)
            ctx.audit("identity.link_code")
            ctx.reply(ctx.t("link.code", code=issued, minutes=CODE_MINUTES))
            return
        owner = await linking.redeem_code(ctx.conn, code, ctx.now)
        if owner is None:
            ctx.audit("identity.link", allowed=False)
            ctx.reply(ctx.t("link.bad_code"))
            return
        if owner == ctx.person.id:
            ctx.reply(ctx.t("link.same"))
            return
        if not await linking.may_link(ctx.conn, owner, ctx.person.role):
            ctx.audit("identity.link", allowed=False, reason="staff account redeeming")
            ctx.reply(ctx.t("link.staff_first"))
            return
        merged = ctx.person.id
        await linking.merge_people(ctx.conn, keep=owner, drop=merged)
        ctx.person.id = owner  # this message and the rest of the batch now belong to the kept person
        ctx.audit("identity.link", merged=merged, channel=ctx.msg.channel)
        ctx.reply(ctx.t("link.done"))

    @router.command("linkqueue", roles=SECRETARIAT_ONLY, help_key="help.cmd.linkqueue")
    async def link_queue(ctx: Context) -> None:
        queue = command_args(ctx).upper()
        if ctx.msg.chat_type == "private":
            ctx.reply(ctx.t("space.group_only"))
            return
        if queue not in ctx.services.config.queue_ids:
            ctx.reply(ctx.t("usage.generic", usage="/linkqueue " + "|".join(ctx.services.config.queue_ids)))
            return
        await linking.link_space(ctx.conn, queue, ctx.msg.channel, ctx.msg.chat_id, ctx.now)
        ctx.effects.spaces.clear()
        ctx.audit("queue.space_linked", queue=queue, chat=ctx.msg.chat_id)
        ctx.reply(ctx.t("space.linked", queue=queue))

    @router.event("bot_removed")
    async def bot_removed(ctx: Context) -> None:
        channel, chat = ctx.msg.channel, ctx.msg.chat_id
        queues = set(await linking.unlink_chat(ctx.conn, channel, chat))
        ctx.effects.spaces.clear()
        queues |= {q.id for q in ctx.services.config.queues
                   if any(s.channel == channel and s.chat == chat for s in q.spaces)}
        ctx.audit("space.bot_removed", chat=chat, queues=sorted(queues))
        lang = ctx.services.config.service.default_language
        text = t("space.bot_removed", lang, channel=channel, title=ctx.msg.text or chat, chat=chat,
                 name=ctx.person.display_name, queues=", ".join(sorted(queues)) or "-")
        for space in secretariat_spaces(ctx.services.config):
            if (space.channel, space.chat) != (channel, chat):
                ctx.send(space.channel, space.chat, text)
