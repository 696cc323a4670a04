"""Block Kit: messages (plain-text sections and buttons) and the App Home view."""

from __future__ import annotations

from typing import Any

from bot.channels.text import shorten, split_text
from bot.core.messages import Button
from bot.core.overview import Overview, TicketLine
from bot.core.sla import local_time
from bot.i18n import t

JSON = dict[str, Any]
SECTION_CHARS = 3000  # Slack's limit for a section's text
FALLBACK_CHARS = 3000  # the notification text beside the blocks
BUTTON_CHARS = 75


def escape(text: str) -> str:
    """Slack's message text escapes exactly &, < and >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def action_id(index: int, action: str) -> str:
    """A button's action_id: unique in its message, readable ('hd_0_claim')."""
    return f"hd_{index}_{action.split(':', 1)[0]}"


def message_payload(text: str, buttons: tuple[Button, ...] = ()) -> JSON:
    """chat.postMessage / chat.update arguments: the text as plain-text sections, buttons below.

    Blocks are always sent, so an edit also replaces (or removes) the buttons of the earlier post.
    """
    blocks: list[JSON] = [{"type": "section", "text": {"type": "plain_text", "text": chunk, "emoji": True}}
                          for chunk in split_text(text, SECTION_CHARS) if chunk.strip()]
    if buttons:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "action_id": action_id(i, b.action), "value": b.action,
             "text": {"type": "plain_text", "text": shorten(b.label, BUTTON_CHARS), "emoji": True}}
            for i, b in enumerate(buttons)]})
    return {"text": escape(shorten(text, FALLBACK_CHARS)), "blocks": blocks}


def _ticket(line: TicketLine, overview: Overview, with_due: bool) -> JSON:
    lang = overview.language
    text = (f"*#{line.id}* · {line.queue_id} · {t(f'state.{line.state}', lang)}\n"
            f"{escape(shorten(line.question, 200))}")
    if with_due and line.due is not None:
        text += "\n_" + t("home.due", lang, when=local_time(line.due, overview.timezone)) + "_"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _list(title: str, lines: list[TicketLine], overview: Overview, with_due: bool) -> list[JSON]:
    blocks: list[JSON] = [{"type": "header", "text": {"type": "plain_text", "text": title}}]
    blocks += [_ticket(line, overview, with_due) for line in lines]
    if not lines:
        empty = {"type": "plain_text", "text": t("home.empty", overview.language)}
        blocks.append({"type": "context", "elements": [empty]})
    return blocks


def home_view(overview: Overview | None, default_lang: str) -> JSON:
    """The App Home tab: a practitioner's open questions; an expert's queue and claimed tickets with due times."""
    lang = overview.language if overview else default_lang
    hint = {"type": "context", "elements": [{"type": "plain_text", "text": t("home.hint", lang)}]}
    if overview is None:
        return {"type": "home", "blocks": [hint]}
    blocks = []
    if overview.role != "practitioner":
        blocks += _list(t("home.claimed", lang), overview.claimed, overview, True)
        blocks += [{"type": "divider"}, *_list(t("home.queue", lang), overview.waiting, overview, True)]
        blocks.append({"type": "divider"})
    blocks += [*_list(t("home.yours", lang), overview.questions, overview, False), hint]
    return {"type": "home", "blocks": blocks}
