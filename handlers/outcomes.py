"""The practitioner's answer to "did you apply it?" (asked by the scheduler, bot.core.outcomes): four buttons,
then an optional comment."""

from __future__ import annotations

from bot.core import outcomes
from bot.core.context import Context
from bot.core.conversation import Waiting
from bot.core.outcomes import Recorded
from bot.core.router import PRACTITIONER, Router

ASKER = frozenset({PRACTITIONER})


def register(router: Router) -> None:
    """Register the answer buttons and the comment step."""

    @router.action("outcome", roles=ASKER)
    async def answer(ctx: Context, args: list[str]) -> None:
        outcome_id, choice = int(args[0]), args[1]
        recorded, earlier = await outcomes.record_answer(ctx, outcome_id, choice)
        if recorded is Recorded.stale:
            ctx.reply(ctx.t("error.stale_button"))
        elif recorded is Recorded.already:
            ctx.reply(ctx.t("outcome.already", answer=ctx.t(f"outcome.answer.{earlier or choice}")))
        elif recorded is Recorded.reopened:
            ctx.reply(ctx.t("outcome.reopened"))
        else:
            ctx.expect(Waiting.OUTCOME_COMMENT, id=outcome_id)
            ctx.reply(ctx.t("outcome.thanks", answer=ctx.t(f"outcome.answer.{choice}")),
                      [ctx.button(ctx.t("outcome.skip"), "outcome_skip", outcome_id)])

    @router.state(Waiting.OUTCOME_COMMENT)
    async def comment(ctx: Context) -> None:
        text = ctx.msg.text.strip()
        outcome_id = int(ctx.conversation.data.get("id") or 0)
        ctx.expect_nothing()
        if not text or text.endswith("?"):  # a new question, not a comment: the usual flow takes it
            await router.dispatch(ctx)
            return
        if await outcomes.record_comment(ctx, outcome_id, text):
            ctx.reply(ctx.t("outcome.comment_saved"))
        else:
            ctx.reply(ctx.t("error.stale_button"))

    @router.action("outcome_skip", roles=ASKER)
    async def skip(ctx: Context, args: list[str]) -> None:
        if ctx.conversation.state == Waiting.OUTCOME_COMMENT:
            ctx.expect_nothing()
        ctx.reply(ctx.t("outcome.comment_skipped"))
