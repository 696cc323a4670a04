"""A practitioner's profile: who they are (country, institution, role, sector), told to the experts."""

from __future__ import annotations

from sqlalchemy import update

from bot.core.context import Context
from bot.db.models import Person, table

P = table(Person)
FIELDS = ("country", "institution", "job_title", "sector")  # asked in this order
LONGEST = 200  # characters kept of an answer


async def save_answer(ctx: Context, field: str, value: str) -> None:
    """Store the sender's answer to one profile question."""
    if field not in FIELDS:
        raise ValueError(f"not a profile field: {field!r}")
    await ctx.conn.execute(update(P).where(P.c.id == ctx.person.id).values({field: value[:LONGEST]}))
