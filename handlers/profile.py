"""The practitioner's profile: country, institution, role and sector, asked once and editable."""

from __future__ import annotations

from bot.core import profiles
from bot.core.context import Context
from bot.core.conversation import Waiting
from bot.core.router import PRACTITIONER, Router

ASKER = frozenset({PRACTITIONER})
STEPS = profiles.FIELDS
CHOICES = {
    "job_title": ("government", "adviser", "ngo", "academia", "partner", "other"),
    "sector": ("energy", "transport", "afolu", "finance", "policy", "cities", "other"),
}


def offer_profile(ctx: Context) -> None:
    """After a newcomer's first question: offer to tell experts who they are (skippable)."""
    ctx.reply(ctx.t("profile.offer"), [ctx.button(ctx.t("profile.fill"), "profile", "start"),
                                       ctx.button(ctx.t("profile.skip"), "profile", "skip")])


def ask_step(ctx: Context, step: str) -> None:
    """Ask one profile question, with buttons where there are fixed choices."""
    buttons = [ctx.button(ctx.t(f"profile.{step}.{c}"), "pchoice", step, c) for c in CHOICES.get(step, ())]
    buttons.append(ctx.button(ctx.t("profile.skip_step"), "pchoice", step, "-"))
    ctx.expect(Waiting.PROFILE, step=step)
    ctx.reply(ctx.t(f"profile.ask.{step}"), buttons)


async def save_and_continue(ctx: Context, step: str, value: str | None) -> None:
    """Store one answer, then ask the next question or finish."""
    if value:
        await profiles.save_answer(ctx, step, value)
    following = STEPS.index(step) + 1
    if following < len(STEPS):
        ask_step(ctx, STEPS[following])
        return
    ctx.expect_nothing()
    ctx.audit("profile.saved")
    ctx.reply(ctx.t("profile.done"))


def register(router: Router) -> None:
    """Register the profile flow."""

    @router.command("profile", roles=ASKER, help_key="help.cmd.profile")
    async def profile(ctx: Context) -> None:
        ask_step(ctx, STEPS[0])

    @router.action("profile", roles=ASKER)
    async def start(ctx: Context, args: list[str]) -> None:
        if args[0] == "start":
            ask_step(ctx, STEPS[0])
        else:
            ctx.reply(ctx.t("profile.skipped"))

    @router.action("pchoice", roles=ASKER)
    async def choice(ctx: Context, args: list[str]) -> None:
        step, value = args
        if ctx.conversation.state != Waiting.PROFILE or ctx.conversation.data.get("step") != step:
            ctx.reply(ctx.t("error.stale_button"))
            return
        label = None if value == "-" else ctx.t(f"profile.{step}.{value}") if step in CHOICES else value
        await save_and_continue(ctx, step, label)

    @router.state(Waiting.PROFILE)
    async def answer(ctx: Context) -> None:
        text = ctx.msg.text.strip()
        if looks_like_question(text):  # they moved on: answer the question, forget the form
            ctx.expect_nothing()
            await router.texts[PRACTITIONER](ctx)
            return
        await save_and_continue(ctx, str(ctx.conversation.data.get("step", STEPS[0])), text)


def looks_like_question(text: str) -> bool:
    """A long text or one ending with '?' is a question, not a short profile answer."""
    return len(text) > 80 or text.rstrip().endswith("?")
