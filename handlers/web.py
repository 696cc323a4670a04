"""The web pages from the chat: `/dashboard` answers staff with a one-time sign-in link."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.login import login_url, new_login_token
from bot.core.router import STAFF, Router


def register(router: Router) -> None:
    """Register the web commands."""

    @router.command("dashboard", roles=STAFF, help_key="help.cmd.dashboard")
    async def dashboard(ctx: Context) -> None:
        if ctx.msg.chat_type != "private":
            ctx.reply(ctx.t("web.private_only"))
            return
        token = await new_login_token(ctx.conn, ctx.person.id, ctx.now)
        ctx.audit("web.login_link")
        ctx.reply(ctx.t("web.login_link", url=login_url(ctx.services.web_url, token)))
