"""The practitioner's flow: ask, get an FAQ answer, suggestions or a ticket; say whether it helped."""

from __future__ import annotations

import re

from bot.core import asked, followups, tickets
from bot.core.context import Context
from bot.core.conversation import Waiting
from bot.core.labels import distinct_labels
from bot.core.router import PRACTITIONER, Router, command_args
from bot.i18n import language_name
from handlers.profile import looks_like_question, offer_profile
from kb.entry import KBEntry
from kb.triage import Route, TriageResult, is_chatter, is_number

ASKER = frozenset({PRACTITIONER})
SUGGESTION_LABEL = 60  # characters of a suggested FAQ question on its button


def record(ctx: Context, result: TriageResult) -> None:
    """Store the decision with its candidates and thresholds (flushed with the batch)."""
    top = result.candidates[0] if result.candidates else None
    summary = result.as_dict()
    ctx.effects.triage.append({
        "message_id": ctx.message_id, "person_id": ctx.person.id, "ticket_id": None, "lang": result.lang,
        "decision": result.decision, "top_entry_id": top.entry_id if top else None,
        "top_score": round(top.score, 4) if top else None, "queue_id": result.route.queue,
        "candidates": summary["candidates"], "thresholds": summary["thresholds"],
        "feedback": None, "created_at": ctx.now,
    })


def answer_text(ctx: Context, entry: KBEntry) -> str:
    """The FAQ answer with its source; a note when it is in another language."""
    text = ctx.t("faq.answer", question=entry.question, answer=entry.answer.strip(), source=entry.source)
    if entry.lang != ctx.lang:
        text = ctx.t("faq.other_language", language=language_name(entry.lang, ctx.lang)) + "\n\n" + text
    return text


def send_answer(ctx: Context, entry_id: str, message_id: int) -> None:
    """Answer with an FAQ entry and ask whether it helped."""
    kb = ctx.services.kb
    entry = kb.for_reader(entry_id, ctx.lang)
    ctx.reply(answer_text(ctx, entry), [
        ctx.button(ctx.t("faq.helped"), "helped", message_id),
        ctx.button(ctx.t("faq.need_expert"), "expert", message_id),
    ])


async def escalate(ctx: Context, question: str, message_id: int, route: Route, wants_expert: bool = False) -> None:
    """Open a ticket in the routed queue; with no queue, let the practitioner pick a topic, send the question
    to the secretariat or drop it (and when nothing at all pointed anywhere and they did not ask for an
    expert with /new, say what the service covers)."""
    if route.queue is not None:
        await tickets.open_ticket(ctx, question, route.queue, message_id, route.reasons)
        return
    queues = ctx.services.config.queues
    buttons = [ctx.button(q.name, "queue", message_id, q.id) for q in queues]
    buttons += [ctx.button(ctx.t("scope.secretariat_button"), "tosecretariat", message_id),
                ctx.button(ctx.t("scope.drop_button"), "drop", message_id)]
    if route.scores or wants_expert:  # keywords or FAQ entries of several queues, too close to call
        ctx.reply(ctx.t("route.ask"), buttons)
    else:
        ctx.reply(ctx.t("scope.intro", topics="\n".join(f"• {q.name}" for q in queues)), buttons)


def not_a_question(ctx: Context, text: str) -> None:
    """A friendly word for thanks and greetings; for a bare number (no buttons wait for it), how to ask."""
    ctx.reply(ctx.t("chatter.number" if is_number(text) else "chatter.reply"))


async def question_of(ctx: Context, message_id: int) -> str | None:
    """The text of one of the sender's own earlier messages that has no ticket yet (None otherwise, told)."""
    message = await asked.own_message(ctx, message_id)
    if message is None:
        return None
    if message.ticket_id is not None:
        ctx.reply(ctx.t("ticket.already", id=message.ticket_id))
        return None
    return message.text


async def attachment_refused(ctx: Context) -> bool:
    """Refuse files over the configured size or of a type not allowed, with a clear message."""
    service = ctx.services.config.service
    for file in ctx.msg.attachments:
        name = file.name or file.kind
        if file.size > service.max_attachment_bytes:
            ctx.reply(ctx.t("input.file_too_big", name=name, limit=service.max_attachment_mb))
            ctx.audit("input.file_too_big", size=file.size)
            return True
        if file.mime and not service.accepts_type(file.mime):
            ctx.reply(ctx.t("input.file_type", name=name, types=", ".join(service.attachment_types)))
            ctx.audit("input.file_type", mime=file.mime)
            return True
    return False


def register(router: Router) -> None:
    """Register the practitioner's flows."""

    @router.text(PRACTITIONER)
    async def practitioner_text(ctx: Context) -> None:
        text = ctx.msg.text.strip()
        if is_chatter(text) and not ctx.msg.attachments:
            not_a_question(ctx, text)
            return
        if await attachment_refused(ctx):
            return
        if ctx.conversation.state == Waiting.NEW_QUESTION:  # after /new: straight to an expert, no FAQ
            if not text:
                ctx.reply(ctx.t("input.file_needs_question"))
                return
            ctx.expect_nothing()
            await escalate(ctx, text, ctx.message_id, ctx.services.kb.route(text, ctx.lang), wants_expert=True)
            return
        open_ = [] if ctx.ticketless else await tickets.open_tickets_of(ctx)
        if len(open_) == 1:
            await tickets.relay_to_experts(ctx, open_[0], text, ctx.msg.attachments)
            ctx.reply(ctx.t("ticket.added", id=open_[0].id),
                      [ctx.button(ctx.t("ticket.new_question_button"), "newq", ctx.message_id)])
        elif open_:
            followups.which_ticket(ctx, "ticket.which_one", open_)
        elif not await followups.follow_up(ctx, text):  # a reply to a resolved ticket reopens it
            await ask(ctx, text)
        if ctx.person.is_new:
            offer_profile(ctx)

    async def ask(ctx: Context, text: str) -> None:
        if not text:  # a file without words: there is no question to answer or to pass on
            ctx.reply(ctx.t("input.file_needs_question"))
            return
        result = ctx.services.kb.triage(text, ctx.lang)
        if result.decision == "chatter":
            not_a_question(ctx, text)
            return
        record(ctx, result)
        if result.decision == "answer":
            send_answer(ctx, result.candidates[0].entry_id, ctx.message_id)
        elif result.decision == "suggest":
            kb = ctx.services.kb
            shown: dict[str, int] = {}  # entry shown -> its candidate's place (the same topic once)
            for n, cand in enumerate(result.suggestions):
                shown.setdefault(kb.for_reader(cand.entry_id, ctx.lang).id, n)
            labels = distinct_labels([kb.entries[entry_id].question for entry_id in shown], SUGGESTION_LABEL)
            buttons = [ctx.button(label, "pick", ctx.message_id, n)
                       for label, n in zip(labels, shown.values(), strict=True)]
            buttons.append(ctx.button(ctx.t("suggest.none"), "expert", ctx.message_id))
            ctx.reply(ctx.t("suggest.intro"), buttons)
        else:
            if result.route.queue is not None:
                ctx.reply(ctx.t("escalate.no_match"))
            await escalate(ctx, text, ctx.message_id, result.route)

    @router.action("newq", roles=ASKER)
    async def new_question(ctx: Context, args: list[str]) -> None:
        message_id = int(args[0])
        message = await asked.own_message(ctx, message_id)
        if message is None:
            ctx.reply(ctx.t("error.stale_button"))
            return
        await asked.detach(ctx, message_id)
        saved, ctx.message_id = ctx.message_id, message_id
        try:
            await ask(ctx, message.text)
        finally:
            ctx.message_id = saved

    @router.action("to", roles=ASKER)
    async def add_to_ticket(ctx: Context, args: list[str]) -> None:
        message_id, ticket_id = int(args[0]), int(args[1])
        message = await asked.own_message(ctx, message_id)
        ticket = await tickets.load(ctx.conn, ticket_id)
        if (message is None or message.ticket_id is not None or ticket is None
                or not followups.may_continue(ctx, ticket)):
            ctx.reply(ctx.t("error.stale_button"))
            return
        saved, ctx.message_id = ctx.message_id, message_id
        try:
            told = await followups.add_message(ctx, ticket, message.text, message.attachments)
        finally:
            ctx.message_id = saved
        if not told:
            ctx.reply(ctx.t("ticket.added", id=ticket.id))

    @router.command("new", roles=ASKER, help_key="help.cmd.new")
    async def new(ctx: Context) -> None:
        ctx.expect(Waiting.NEW_QUESTION)
        ctx.reply(ctx.t("ticket.ask_new"))

    @router.command("status", roles=ASKER, help_key="help.cmd.status")
    async def status(ctx: Context) -> None:
        match = re.match(r"#?(\d{1,12})", command_args(ctx))
        ticket = await tickets.load(ctx.conn, int(match.group(1))) if match else None
        if ticket is None or ticket.person_id != ctx.person.id:
            ctx.reply(ctx.t("ticket.status_unknown"))
            return
        who = tickets.expert_name(ctx, ticket.assignee_name) if ticket.assignee_id else "-"
        ctx.reply(ctx.t("ticket.status", id=ticket.id, queue=ticket.queue_id, state=ctx.t(f"state.{ticket.state}"),
                        who=who, question=ticket.question[:200]))

    @router.action("rate", roles=ASKER)
    async def rate(ctx: Context, args: list[str]) -> None:
        ticket = await tickets.load(ctx.conn, int(args[0]))
        score = int(args[1])
        if ticket is None or ticket.person_id != ctx.person.id or ticket.state not in ("resolved", "closed"):
            ctx.reply(ctx.t("error.stale_button"))
            return
        if not 1 <= score <= 5:
            ctx.reply(ctx.t("rating.invalid"))
            return
        await tickets.rate(ctx, ticket, score)
        ctx.expect(Waiting.RATING_COMMENT, id=ticket.id)
        ctx.reply(ctx.t("rating.thanks", score=score), [ctx.button(ctx.t("rating.skip"), "nocomment", ticket.id)])

    @router.state(Waiting.RATING_COMMENT)
    async def rating_comment(ctx: Context) -> None:
        if looks_like_question(ctx.msg.text):
            ctx.expect_nothing()
            await practitioner_text(ctx)
            return
        await tickets.comment_rating(ctx, int(ctx.conversation.data["id"]), ctx.msg.text)
        ctx.expect_nothing()
        ctx.reply(ctx.t("rating.comment_saved"))

    @router.action("nocomment", roles=ASKER)
    async def no_comment(ctx: Context, args: list[str]) -> None:
        if ctx.conversation.state == Waiting.RATING_COMMENT:
            ctx.expect_nothing()
        ctx.reply(ctx.t("rating.comment_skipped"))

    @router.action("reopen", roles=ASKER)
    async def reopen(ctx: Context, args: list[str]) -> None:
        ticket = await tickets.load(ctx.conn, int(args[0]))
        if ticket is None or ticket.person_id != ctx.person.id or ticket.state != "resolved":
            ctx.reply(ctx.t("error.stale_button"))
            return
        await tickets.reopen(ctx, ticket)

    @router.action("pick", roles=ASKER)
    async def pick(ctx: Context, args: list[str]) -> None:
        message_id, n = int(args[0]), int(args[1])
        entry_id = await asked.pick(ctx, message_id, n)
        if entry_id is None:
            ctx.reply(ctx.t("error.stale_button"))
            return
        send_answer(ctx, entry_id, message_id)

    @router.action("helped", roles=ASKER)
    async def helped(ctx: Context, args: list[str]) -> None:
        if await asked.set_feedback(ctx, int(args[0]), "helped"):
            ctx.reply(ctx.t("faq.thanks"))
        else:
            ctx.reply(ctx.t("error.stale_button"))

    @router.action("expert", roles=ASKER)
    async def need_expert(ctx: Context, args: list[str]) -> None:
        message_id = int(args[0])
        question = await question_of(ctx, message_id)
        if question is None:
            return
        if await asked.decision(ctx, message_id) == "answer":
            await asked.set_feedback(ctx, message_id, "false_deflection")
            ctx.audit("faq.false_deflection", message_id=message_id)
        else:
            await asked.set_feedback(ctx, message_id, "escalated")
        await escalate(ctx, question, message_id, ctx.services.kb.route(question, ctx.lang))

    @router.action("queue", roles=ASKER)
    async def choose_queue(ctx: Context, args: list[str]) -> None:
        message_id, queue_id = int(args[0]), args[1]
        question = await question_of(ctx, message_id)
        if question is None:
            return
        if queue_id not in ctx.services.config.queue_ids:
            ctx.reply(ctx.t("error.stale_button"))
            return
        await tickets.open_ticket(ctx, question, queue_id, message_id, ["chosen by the practitioner"])

    @router.action("tosecretariat", roles=ASKER)
    async def to_secretariat(ctx: Context, args: list[str]) -> None:
        message_id = int(args[0])
        question = await question_of(ctx, message_id)
        if question is None:
            return
        if not await asked.settle(ctx, message_id, "to_secretariat"):
            ctx.reply(ctx.t("error.stale_button"))
            return
        tickets.tell_secretariat(ctx, "scope.for_secretariat", name=ctx.person.display_name, id=ctx.person.id,
                                 channel=ctx.msg.channel, question=question)
        ctx.audit("question.to_secretariat", message_id=message_id)
        ctx.reply(ctx.t("scope.sent"))

    @router.action("drop", roles=ASKER)
    async def drop(ctx: Context, args: list[str]) -> None:
        message_id = int(args[0])
        if await question_of(ctx, message_id) is None:
            return
        if not await asked.settle(ctx, message_id, "dropped"):
            ctx.reply(ctx.t("error.stale_button"))
            return
        ctx.audit("question.dropped", message_id=message_id)
        ctx.reply(ctx.t("scope.dropped"))

    @router.command("mytickets", roles=ASKER, help_key="help.cmd.mytickets")
    async def my_tickets(ctx: Context) -> None:
        mine = await tickets.open_tickets_of(ctx)
        if not mine:
            ctx.reply(ctx.t("ticket.none_open"))
            return
        lines = [ctx.t("ticket.list_header")]
        lines += [ctx.t("ticket.list_line", id=v.id, queue=v.queue_id, state=ctx.t(f"state.{v.state}"),
                        question=v.question[:80]) for v in mine]
        ctx.reply("\n".join(lines))
