"""Which language to answer a message in: its own, detected per message, unless the person chose one.

The policy (docs/knowledge.md, "Reply language"):

1. a language chosen with `/language` wins;
2. else the language the text is clearly written in (`kb.language.language_scores`, one word's worth of
   evidence ahead of the next language);
3. else, for short or ambiguous texts ("4", "ok", "MRV?"), the person's stored language: the language of
   their last clearly written message, or at first contact the one their channel gave (Telegram's app
   language, the web chat's page language; `identity.first_language`).

Button presses and commands carry no text to judge: they follow the stored language, which is the
language of the person's last clearly written message (kept for practitioners). Staff are answered in
their stored language: they write to practitioners in other languages all day.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.messages import IncomingMessage
from bot.db.models import Person as PersonRow
from bot.db.models import table
from bot.i18n import LANGUAGES
from kb.language import language_scores

P = table(PersonRow)
MARGIN = 1.0  # evidence the detected language needs over the runner-up (one function word)


def detected_language(text: str) -> str | None:
    """The language `text` is clearly written in, or None when it is too short or mixed to say."""
    if not text.strip() or text.startswith("/"):
        return None
    scores = sorted(language_scores(text, LANGUAGES).items(), key=lambda kv: -kv[1])
    (best, top), (_, second) = scores[0], scores[1]
    return best if top >= MARGIN and top - second >= MARGIN else None


def message_language(msg: IncomingMessage, stored: str, chosen: bool, detect: bool = True) -> tuple[str, bool]:
    """The language to answer `msg` in, and whether it was read from the text itself (see the module doc)."""
    if chosen or msg.action is not None or msg.event is not None or not detect:
        return stored, False
    found = detected_language(msg.text)
    return (found, True) if found is not None else (stored, False)


def remember(person_id: int, lang: str) -> tuple[str, Callable[[AsyncConnection], Awaitable[None]]]:
    """A deferred write (`Effects.deferred`) storing the language a practitioner last wrote in."""

    async def write(conn: AsyncConnection) -> None:
        await conn.execute(update(P).where(P.c.id == person_id, P.c.language_chosen.is_(False)).values(language=lang))

    return f"language:{person_id}", write


async def set_language(conn: AsyncConnection, person_id: int, lang: str, *, chosen: bool) -> None:
    """Store a person's language; `chosen` (by /language) makes it win over each message's own."""
    await conn.execute(update(P).where(P.c.id == person_id).values(language=lang, language_chosen=chosen))
