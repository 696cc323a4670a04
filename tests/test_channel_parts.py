"""The channels' pure parts: text splitting, pacing, backlog merging, keyboards, Block Kit, update parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Bot, Update

from bot.channels import slack_inbound
from bot.channels.base import StepSender, file_note, split_post_id, with_file_notes
from bot.channels.pacing import Budget, Pacer
from bot.channels.slack_blocks import escape, message_payload
from bot.channels.telegram import keyboard
from bot.channels.telegram_inbound import incoming
from bot.channels.text import shorten, split_text, utf16_len
from bot.core.messages import Attachment, Button
from bot.core.outbox import MERGE_MAX_CHARS, PermanentFailure, RetryLater, merge_backlog

BOT_ID, BOT = 123456789, "helpdesk_test_bot"
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


# ------------------------------------------------------------------------------------ text


def test_split_prefers_paragraphs_then_sentences_and_loses_nothing() -> None:
    paragraph = "The ETF asks for a BTR every two years. " * 60  # ~2,400 characters of sentences
    text = "\n\n".join([paragraph.strip()] * 3)
    parts = split_text(text, 4096)
    assert parts == [paragraph.strip()] * 3  # a whole paragraph per part, though two would not fit
    assert parts[0].endswith("years.")  # cut at a paragraph end, not inside a sentence
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())
    one_sentence_per_part = split_text("First sentence here. Second sentence here.", 25)
    assert one_sentence_per_part == ["First sentence here.", "Second sentence here."]


def test_split_measures_telegram_utf16_units_and_cuts_unbroken_text() -> None:
    emoji = "😀" * 3000  # 6,000 UTF-16 units, no break anywhere
    parts = split_text(emoji, 4096, utf16_len)
    assert [utf16_len(p) for p in parts] == [4096, 1904] and "".join(parts) == emoji
    assert split_text("short", 4096) == ["short"]
    assert shorten("x" * 300, 200) == "x" * 199 + "…" and shorten("ok", 200) == "ok"


def test_file_notes_and_post_ids() -> None:
    tg = Attachment("photo", "AgAC1", "photo.jpg", 20_480, "image/jpeg", "telegram")
    slack = Attachment("document", "F01", "plan.pdf", 2048, "application/pdf", "slack")
    assert with_file_notes("Hello", (tg, slack), "telegram") == "Hello\n📎 plan.pdf (2 KB)"
    assert file_note(Attachment("document", "x")) == "📎 document"
    assert split_post_id("-100123/45") == ("-100123", "45")
    assert split_post_id("C0ENERGY/1700000000.000100") == ("C0ENERGY", "1700000000.000100")
    assert split_post_id("D0ALICE") == ("D0ALICE", "")


async def test_step_sender_resumes_after_the_last_post_that_went_out() -> None:
    posted: list[str] = []
    fail = {"part2": 1}

    def step(name: str) -> Any:
        async def run() -> str:
            if fail.get(name):
                fail[name] -= 1
                raise RetryLater(1.0)
            posted.append(name)
            return name
        return run

    sender = StepSender()
    steps = [step("part1"), step("part2"), step("file")]
    with pytest.raises(RetryLater):
        await sender.run(7, steps)
    assert await sender.run(7, steps) == "part1"  # the id of the first post, kept across the retry
    assert posted == ["part1", "part2", "file"]  # nothing posted twice


# ----------------------------------------------------------------------------------- pacing


async def test_pacer_budgets_per_chat_group_and_overall() -> None:
    now = [100.0]
    pacer = Pacer(Budget(3, 1.0), Budget(20, 20 / 60), Budget(1000, 1000), clock=lambda: now[0])
    for _ in range(3):
        assert pacer.chat_wait("42", group=False) == 0
        await pacer.take("42", group=False)
    assert pacer.chat_wait("42", group=False) == pytest.approx(1.0)
    assert pacer.chat_wait("43", group=False) == 0  # other chats are independent
    for _ in range(20):
        await pacer.take("-100", group=True)
    assert pacer.chat_wait("-100", group=True) == pytest.approx(3.0)  # 20 a minute: one every 3 s
    now[0] += 3.0
    assert pacer.chat_wait("-100", group=True) == 0


# ------------------------------------------------------------------------------ backlog merge


def row(id_: int, ticket: int | None, text: str, waited: bool = True, **extra: Any) -> Any:
    values = {"id": id_, "ticket_id": ticket, "text": text, "kind": "send", "ref": None, "thread_ref": None,
              "buttons": None, "attachments": None, "created_at": NOW,
              "next_attempt_at": NOW + timedelta(seconds=30) if waited else NOW} | extra
    return SimpleNamespace(**values)


def test_backlog_of_one_ticket_becomes_one_post_in_order() -> None:
    rows = [row(1, 7, "a"), row(2, 7, "b"), row(3, 8, "c"), row(4, 7, "d"), row(5, 7, "e", buttons=[{}]),
            row(6, 7, "f", waited=False), row(7, 7, "g", waited=False), row(8, None, "h"), row(9, None, "i")]
    groups = [[r.id for r in g] for g in merge_backlog(rows)]
    assert groups == [[1, 2], [3], [4], [5], [6], [7], [8], [9]]
    long_rows = [row(i, 7, "x" * 2000) for i in range(1, 4)]
    assert all(sum(len(r.text) for r in g) <= MERGE_MAX_CHARS for g in merge_backlog(long_rows))
    assert len(merge_backlog(long_rows)) == 3


# -------------------------------------------------------------------------- buttons and blocks


def test_keyboard_packs_short_labels_and_keeps_callback_data() -> None:
    stars = [Button("★" * n, f"rate:1:{n}:sig") for n in range(1, 6)] + [Button("Reopen", "reopen:1:sig")]
    markup = keyboard(stars)
    assert markup is not None
    assert [len(r) for r in markup.inline_keyboard] == [3, 3]
    assert markup.inline_keyboard[1][2].callback_data == "reopen:1:sig"
    long = keyboard([Button("What does a Biennial Transparency Report contain?", "pick:1:0:s"), Button("B", "b:s")])
    assert long is not None and [len(r) for r in long.inline_keyboard] == [1, 1]
    assert keyboard([]) is None


def test_slack_payload_is_plain_text_sections_and_buttons_with_signed_values() -> None:
    payload = message_payload("Q&A <b>bold?</b> *not bold*\n" + "y" * 4000, (Button("Claim", "claim:5:sig"),))
    sections = [b for b in payload["blocks"] if b["type"] == "section"]
    assert len(sections) == 2 and all(len(s["text"]["text"]) <= 3000 for s in sections)
    assert sections[0]["text"]["type"] == "plain_text"  # shown as typed: no markup, no escaping
    assert sections[0]["text"]["text"].startswith("Q&A <b>bold?</b> *not bold*\nyyy")
    (button,) = payload["blocks"][-1]["elements"]
    assert (button["action_id"], button["value"]) == ("hd_0_claim", "claim:5:sig")
    assert payload["text"].startswith("Q&amp;A &lt;b&gt;bold?&lt;/b&gt;") and escape("<&>") == "&lt;&amp;&gt;"
    assert message_payload("edited, no buttons")["blocks"][-1]["type"] == "section"


# ---------------------------------------------------------------------------- Telegram updates


def update(payload: dict[str, Any]) -> Update:
    return Update.de_json({"update_id": 1000, **payload}, Bot("1:x"))


def message(chat: dict[str, Any], **content: Any) -> dict[str, Any]:
    user = {"id": 42, "is_bot": False, "first_name": "Alice", "language_code": "es"}
    return {"message_id": 5, "date": 1_760_000_000, "chat": chat, "from": user, **content}


PRIVATE = {"id": 42, "type": "private"}
GROUP = {"id": -100500, "type": "supergroup", "title": "Energy experts"}


def test_telegram_private_text_photo_document_and_unsupported() -> None:
    msg = incoming(update({"message": message(PRIVATE, text="¿Cómo diseñar una subasta?")}), BOT_ID, BOT)
    assert msg is not None
    assert (msg.external_id, msg.user_id, msg.chat_id, msg.chat_type, msg.language) == ("42/5", "42", "42",
                                                                                         "private", "es")
    assert msg.received_at == datetime.fromtimestamp(1_760_000_000, UTC)
    photo = [{"file_id": f"p{i}", "file_unique_id": f"u{i}", "width": i, "height": i, "file_size": i * 100}
             for i in (1, 2)]
    msg = incoming(update({"message": message(PRIVATE, photo=photo, caption="my chart")}), BOT_ID, BOT)
    assert msg is not None and msg.text == "my chart"
    assert msg.attachments == (Attachment("photo", "p2", "photo.jpg", 200, "image/jpeg", "telegram"),)
    doc = {"file_id": "d1", "file_unique_id": "ud", "file_name": "ndc.pdf", "mime_type": "application/pdf",
           "file_size": 9}
    msg = incoming(update({"message": message(PRIVATE, document=doc)}), BOT_ID, BOT)
    assert msg is not None and msg.attachments[0].name == "ndc.pdf" and msg.attachments[0].kind == "document"
    sticker = {"file_id": "s", "file_unique_id": "s", "width": 1, "height": 1, "is_animated": False,
               "is_video": False, "type": "regular"}
    for content in ({"sticker": sticker}, {"location": {"latitude": 1.0, "longitude": 2.0}},
                    {"poll": {"id": "1", "question": "?", "options": [], "total_voter_count": 0, "is_closed": False,
                              "is_anonymous": True, "type": "regular", "allows_multiple_answers": False,
                              "allows_revoting": False, "members_only": False}}):
        msg = incoming(update({"message": message(PRIVATE, **content)}), BOT_ID, BOT)
        assert msg is not None and msg.unsupported == next(iter(content)) and not msg.attachments
    assert incoming(update({"message": message(GROUP, new_chat_title="x")}), BOT_ID, BOT) is None


def test_telegram_groups_only_what_is_addressed_to_the_bot() -> None:
    bot_post = {"message_id": 3, "date": 1, "chat": GROUP,
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Helpdesk", "username": BOT}}
    chatter = incoming(update({"message": message(GROUP, text="coffee anyone?")}), BOT_ID, BOT)
    reply = incoming(update({"message": message(GROUP, text="Here is my answer", reply_to_message=bot_post)}),
                     BOT_ID, BOT)
    mine = incoming(update({"message": message(GROUP, text=f"/claim@{BOT} 5")}), BOT_ID, BOT)
    other = incoming(update({"message": message(GROUP, text="/claim@other_bot 5")}), BOT_ID, BOT)
    mention = incoming(update({"message": message(GROUP, text=f"@{BOT} what is open?")}), BOT_ID, BOT)
    assert chatter is None and other is None
    assert reply is not None and reply.reply_to == "-100500/3" and reply.chat_type == "group"
    assert mine is not None and mine.text == "/claim 5"
    assert mention is not None and mention.text == "what is open?"


def test_telegram_buttons_edits_and_removal() -> None:
    query = {"id": "777", "from": {"id": 42, "is_bot": False, "first_name": "Alice"}, "chat_instance": "1",
             "data": "claim:5:AbCdEfGhIj", "message": {"message_id": 9, "date": 1, "chat": GROUP}}
    pressed = incoming(update({"callback_query": query}), BOT_ID, BOT)
    assert pressed is not None
    assert (pressed.action, pressed.external_id, pressed.chat_id) == ("claim:5:AbCdEfGhIj", "cb/777", "-100500")
    edited = incoming(update({"edited_message": message(PRIVATE, text="fixed", edit_date=1_760_000_100)}),
                      BOT_ID, BOT)
    assert edited is not None and (edited.event, edited.external_id) == ("edited", "42/5/edit/1760000100")
    bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Helpdesk"}
    member = {"chat": GROUP, "from": {"id": 7, "is_bot": False, "first_name": "Admin"}, "date": 1,
              "old_chat_member": {"status": "member", "user": bot_user},
              "new_chat_member": {"status": "kicked", "user": bot_user, "until_date": 0}}
    removed = incoming(update({"my_chat_member": member}), BOT_ID, BOT)
    assert removed is not None and (removed.event, removed.chat_id, removed.text) == ("bot_removed", "-100500",
                                                                                      "Energy experts")
    member["new_chat_member"] = {"status": "administrator", "user": bot_user, "can_be_edited": False,
                                 **dict.fromkeys(("is_anonymous", "can_manage_chat", "can_delete_messages",
                                                  "can_manage_video_chats", "can_restrict_members",
                                                  "can_promote_members", "can_change_info", "can_invite_users",
                                                  "can_post_stories", "can_edit_stories", "can_delete_stories"),
                                                 False)}
    assert incoming(update({"my_chat_member": member}), BOT_ID, BOT) is None


# ------------------------------------------------------------------------------- Slack events


def test_slack_dm_mention_thread_and_ignored_chatter() -> None:
    dm = slack_inbound.message({"type": "message", "user": "U1", "text": "Q &amp; A &lt;3", "ts": "1700000000.1",
                                "channel": "D1", "channel_type": "im"}, "UBOT")
    assert dm is not None and (dm.text, dm.chat_id, dm.chat_type, dm.external_id) == ("Q & A <3", "D1", "private",
                                                                                      "D1/1700000000.1")
    mention = slack_inbound.message({"type": "app_mention", "user": "U1", "text": "<@UBOT> help me", "ts": "5.1",
                                     "channel": "C1"}, "UBOT", mention=True)
    assert mention is not None and (mention.text, mention.chat_id) == ("help me", "C1/5.1")
    in_card_thread = slack_inbound.message({"type": "message", "user": "U2", "text": "// note", "ts": "6.1",
                                            "thread_ts": "5.0", "parent_user_id": "UBOT", "channel": "C1"}, "UBOT")
    assert in_card_thread is not None and (in_card_thread.reply_to, in_card_thread.chat_id) == ("C1/5.0", "C1/5.0")
    for ignored in ({"type": "message", "user": "U2", "text": "lunch?", "ts": "7.1", "channel": "C1"},
                    {"type": "message", "user": "U2", "text": "x", "ts": "7.2", "thread_ts": "1.0",
                     "parent_user_id": "U3", "channel": "C1"},
                    {"type": "message", "bot_id": "B1", "text": "x", "ts": "7.3", "channel": "D1"},
                    {"type": "message", "subtype": "channel_join", "user": "U2", "ts": "7.4", "channel": "C1"}):
        assert slack_inbound.message(ignored, "UBOT") is None
    files = slack_inbound.message({"type": "message", "subtype": "file_share", "user": "U1", "text": "", "ts": "8.1",
                                   "channel": "D1", "files": [{"id": "F1", "name": "a.png", "mimetype": "image/png",
                                                               "size": 10}]}, "UBOT")
    assert files is not None and files.attachments == (Attachment("photo", "F1", "a.png", 10, "image/png", "slack"),)


def test_slack_clicks_commands_edits_and_removal() -> None:
    click = slack_inbound.button({"user": {"id": "U2"}, "trigger_id": "t1",
                                  "container": {"channel_id": "C1", "message_ts": "5.0"}, "message": {"ts": "5.0"},
                                  "actions": [{"action_id": "hd_0_claim", "value": "claim:1:sig"}]})
    assert click is not None and (click.action, click.chat_id, click.external_id) == ("claim:1:sig", "C1/5.0",
                                                                                      "act/t1")
    command = slack_inbound.command({"channel_id": "D1", "user_id": "U1", "text": "claim 5", "trigger_id": "t2"})
    assert (command.text, command.chat_id, command.chat_type) == ("/claim 5", "U1", "private")
    assert slack_inbound.command({"channel_id": "C1", "user_id": "U1", "text": "", "trigger_id": "t3"}).text == "/help"
    edited = slack_inbound.message({"type": "message", "subtype": "message_changed", "channel": "D1",
                                    "event_ts": "9.9", "message": {"user": "U1", "text": "new", "ts": "9.1"},
                                    "previous_message": {"user": "U1", "text": "old", "ts": "9.1"}}, "UBOT")
    assert edited is not None and (edited.event, edited.text) == ("edited", "new")
    unfurl = {"type": "message", "subtype": "message_changed", "channel": "D1", "event_ts": "9.9",
              "message": {"user": "U1", "text": "same", "ts": "9.1"}, "previous_message": {"text": "same"}}
    assert slack_inbound.message(unfurl, "UBOT") is None
    gone = slack_inbound.removed({"type": "channel_left", "channel": "C1", "actor_id": "U9"}, "Ev1")
    assert (gone.event, gone.chat_id, gone.user_id) == ("bot_removed", "C1", "U9")


async def test_step_sender_forgets_a_row_that_failed_for_good() -> None:
    async def boom() -> str:
        raise PermanentFailure("gone")

    sender = StepSender()
    with pytest.raises(PermanentFailure):
        await sender.run(1, [boom])
    assert sender._progress == {}
