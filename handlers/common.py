"""Flows every role shares: guards on bad input, help, language, unknown commands, stale buttons."""

from __future__ import annotations

import unicodedata

from bot.core.context import Context
from bot.core.language import set_language
from bot.core.router import Router, command_args
from bot.i18n import LANGUAGES

_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp", "Mn"}


def visible_text(text: str) -> str:
    """The text without control, format (zero-width, bidi) and blank characters."""
    if text.isascii() and text.isprintable():  # the common case: nothing to remove
        return text.strip()
    return "".join(c for c in text if unicodedata.category(c) not in _INVISIBLE or c == " ").strip()


def help_text(ctx: Context, router: Router) -> str:
    """The help text for the sender's role, listing the commands they may use."""
    lines = [ctx.t(f"help.intro.{ctx.person.role}", service=ctx.services.config.service.name)]
    for cmd in router.commands_for(ctx.person.role):
        if cmd.help_key:
            lines.append(f"/{cmd.name} — {ctx.t(cmd.help_key)}")
    return "\n".join(lines)


def register(router: Router) -> None:
    """Register the shared flows."""

    @router.guard
    async def flood(ctx: Context) -> bool:
        if ctx.person.is_staff:  # experts and the secretariat are known people; their bursts are work
            return False
        verdict = ctx.services.limiter.check(ctx.person.id, ctx.now)
        if verdict == "ok":
            return False
        ctx.effects.throttled.append(ctx.message_id)
        if verdict == "warn":
            ctx.reply(ctx.t("input.flood"))
            ctx.audit("input.flood")
        return True

    @router.guard
    async def unreadable(ctx: Context) -> bool:
        if ctx.msg.action is not None or ctx.msg.event is not None:
            return False
        if ctx.msg.unsupported:
            ctx.reply(ctx.t("input.unsupported"))
            return True
        limit = ctx.services.config.service.max_message_chars
        if len(ctx.msg.text) > limit:
            ctx.reply(ctx.t("input.too_long", limit=limit, length=len(ctx.msg.text)))
            ctx.audit("input.too_long", length=len(ctx.msg.text))
            return True
        if not visible_text(ctx.msg.text) and not ctx.msg.attachments:
            ctx.reply(ctx.t("input.empty"))
            return True
        return False

    async def refused(ctx: Context, what: str) -> None:
        ctx.reply(ctx.t("error.not_allowed", what=what))

    async def unknown_command(ctx: Context) -> None:
        ctx.reply(ctx.t("error.unknown_command") + "\n\n" + help_text(ctx, router))

    async def bad_action(ctx: Context) -> None:
        ctx.reply(ctx.t("error.stale_button"))

    @router.event("edited")
    async def edited(ctx: Context) -> None:  # the original was handled already; edits are not passed on
        ctx.reply(ctx.t("input.edited"))

    router.on_refused = refused
    router.on_unknown_command = unknown_command
    router.on_bad_action = bad_action

    @router.command("start", help_key="help.cmd.start")
    async def start(ctx: Context) -> None:
        ctx.expect_nothing()
        ctx.reply(help_text(ctx, router))

    @router.command("help", help_key="help.cmd.help")
    async def help_(ctx: Context) -> None:
        ctx.reply(help_text(ctx, router))

    @router.command("language", help_key="help.cmd.language")
    async def language(ctx: Context) -> None:
        arg = command_args(ctx).lower()
        if arg == "auto":  # back to answering each message in its own language
            await set_language(ctx.conn, ctx.person.id, ctx.person.language, chosen=False)
            ctx.person.language_chosen = False
            ctx.reply(ctx.t("language.auto"))
            return
        code = arg[:2]
        if code not in LANGUAGES:
            ctx.reply(ctx.t("language.usage", languages=", ".join(LANGUAGES)))
            return
        await set_language(ctx.conn, ctx.person.id, code, chosen=True)
        ctx.person.language, ctx.person.language_chosen, ctx.lang = code, True, code
        ctx.reply(ctx.t("language.set"))
