"""Personal data: export everything held about a person, or erase it everywhere (derived data included)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.files import FileStore, forget
from bot.db.models import (
    Audit,
    Conversation,
    DigestRound,
    Identity,
    KBDraft,
    KnowledgeOutcome,
    LinkCode,
    Message,
    Outbox,
    Person,
    QueueMember,
    SlaReminder,
    StoredFile,
    Ticket,
    TopicSubscription,
    TriageDecision,
    table,
)

P, I, M, T, O = table(Person), table(Identity), table(Message), table(Ticket), table(Outbox)  # noqa: E741
A, C, TD, LC, QM = table(Audit), table(Conversation), table(TriageDecision), table(LinkCode), table(QueueMember)
D, R, F, KO = table(KBDraft), table(SlaReminder), table(StoredFile), table(KnowledgeOutcome)
TS, DR = table(TopicSubscription), table(DigestRound)
ERASED = "[erased]"


def _rows(result: Any) -> list[dict[str, Any]]:
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r._mapping.items()} for r in result]


async def find_person(conn: AsyncConnection, ref: str) -> int | None:
    """A person by id, handle or 'channel:user_id'."""
    if ref.isdigit():
        return (await conn.execute(select(P.c.id).where(P.c.id == int(ref)))).scalar()
    channel, _, user = ref.partition(":")
    if user:
        found = (await conn.execute(select(I.c.person_id).where(I.c.channel == channel,
                                                                I.c.external_user_id == user))).scalar()
        if found is not None:
            return int(found)
    return (await conn.execute(select(P.c.id).where(P.c.handle == ref))).scalar()


async def export_person(conn: AsyncConnection, person_id: int) -> dict[str, Any]:
    """Everything held about one person, as JSON-ready data."""
    tickets = _rows(await conn.execute(select(T).where(T.c.person_id == person_id).order_by(T.c.id)))
    ticket_ids = [t["id"] for t in tickets]
    mine = or_(M.c.person_id == person_id, M.c.ticket_id.in_(ticket_ids) & M.c.internal.is_(False))
    names = await names_of(conn, person_id)
    naming_them = (select(M.c.id, M.c.created_at).where(M.c.person_id.in_(select(P.c.id).where(
        P.c.role != "practitioner")), M.c.person_id != person_id, naming(M.c.text, names)) if names else None)
    return {
        "person": _rows(await conn.execute(select(P).where(P.c.id == person_id))),
        "identities": _rows(await conn.execute(select(I).where(I.c.person_id == person_id))),
        "messages": _rows(await conn.execute(select(M).where(mine).order_by(M.c.id))),
        "tickets": tickets,
        "ratings": [{"ticket": t["id"], "rating": t["rating"], "comment": t["rating_comment"]}
                    for t in tickets if t["rating"] is not None],
        "triage_decisions": _rows(await conn.execute(select(TD).where(TD.c.person_id == person_id))),
        "replies_sent_to_them": _rows(await conn.execute(
            select(O.c.id, O.c.channel, O.c.text, O.c.created_at, O.c.sent_at).where(O.c.person_id == person_id))),
        "conversation": _rows(await conn.execute(select(C).where(C.c.person_id == person_id))),
        "kb_drafts_from_their_tickets": _rows(await conn.execute(select(D).where(D.c.ticket_id.in_(ticket_ids)))),
        "audit": _rows(await conn.execute(select(A).where(A.c.actor_id == person_id))),
        "files": _rows(await conn.execute(select(F).where(F.c.person_id == person_id).order_by(F.c.created_at))),
        "outcomes": _rows(await conn.execute(select(KO).where(KO.c.person_id == person_id).order_by(KO.c.id))),
        "subscriptions": _rows(await conn.execute(select(TS).where(TS.c.person_id == person_id))),
        "digests": _rows(await conn.execute(select(DR).where(DR.c.person_id == person_id).order_by(DR.c.id))),
        # staff messages that name them: which and when (their text is the staff member's, erased with theirs)
        "staff_messages_naming_them": [] if naming_them is None else _rows(await conn.execute(naming_them)),
    }


SHORTEST_NAME = 3  # a shorter name or handle would match too many unrelated words


async def names_of(conn: AsyncConnection, person_id: int) -> set[str]:
    """The strings that name a person in a message: display name, its first word, handle, channel usernames."""
    person = (await conn.execute(select(P.c.display_name, P.c.handle).where(P.c.id == person_id))).first()
    if person is None:
        return set()
    usernames = (await conn.execute(select(I.c.username).where(I.c.person_id == person_id))).scalars()
    display = (person.display_name or "").strip()
    names = {display, display.split()[0] if display else "", person.handle or "", *(u or "" for u in usernames)}
    names |= {f"@{n}" for n in (person.handle, *usernames) if n}
    return {n.strip() for n in names if len(n.strip()) >= SHORTEST_NAME}


def naming(column: Any, names: set[str]) -> Any:
    """`column` (a text) names one of `names`, ignoring case."""
    return or_(*(column.icontains(name, autoescape=True) for name in sorted(names)))


async def erase_person(conn: AsyncConnection, person_id: int, now: datetime, files: FileStore | None = None,
                       progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Remove or anonymise the person's data everywhere; keep anonymous counts so reports still add up.

    Erased: every message they sent, every message of their tickets, and every message in staff chats (sent by
    staff, or an internal note) that names them by name or handle, with or without a ticket; bot messages that
    name them likewise. Their uploads and the files on their tickets go too: the rows, and the stored bytes
    from `files` unless another upload has the same content. `progress(done, total)` follows its steps
    (tables of messages and audit rows can be large).
    """
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, ERASE_STEPS)

    ticket_ids = [r.id for r in await conn.execute(select(T.c.id).where(T.c.person_id == person_id))]
    names = await names_of(conn, person_id)
    counts: dict[str, int] = {"tickets": len(ticket_ids)}
    staff = select(P.c.id).where(P.c.role != "practitioner")
    theirs = or_(M.c.person_id == person_id, M.c.ticket_id.in_(ticket_ids))
    if names:
        theirs = or_(theirs, (M.c.person_id.in_(staff) | M.c.internal.is_(True)) & naming(M.c.text, names))
    on_their_tickets = F.c.message_id.in_(select(M.c.id).where(M.c.ticket_id.in_(ticket_ids)))  # e.g. relayed to them
    counts["files"] = await forget(conn, files, or_(F.c.person_id == person_id, on_their_tickets))
    step()
    counts["messages"] = (await conn.execute(update(M).where(theirs).values(text=ERASED, attachments=None))).rowcount
    await conn.execute(update(M).where(M.c.person_id == person_id).values(chat_id=""))
    step()
    await conn.execute(update(O).where(O.c.person_id == person_id).values(chat_id=""))
    await conn.execute(update(T).where(T.c.id.in_(ticket_ids)).values(
        question=ERASED, summary=ERASED, rating_comment=None, chat_id=""))
    step()
    outbox = or_(O.c.person_id == person_id, O.c.ticket_id.in_(ticket_ids))
    if names:
        outbox = or_(outbox, naming(O.c.text, names))
    counts["outbox"] = (await conn.execute(update(O).where(outbox).values(
        text=ERASED, buttons=None, attachments=None))).rowcount
    step()
    await conn.execute(update(A).where(or_(A.c.actor_id == person_id, A.c.ticket_id.in_(ticket_ids)))
                       .values(detail=None))
    step()
    await conn.execute(update(TD).where(TD.c.person_id == person_id).values(candidates=[], feedback=None))
    await conn.execute(update(D).where(D.c.ticket_id.in_(ticket_ids), D.c.status == "pending")
                       .values(answer=ERASED))  # not yet reviewed: the expert's reply may name them
    await conn.execute(update(D).where(D.c.ticket_id.in_(ticket_ids)).values(question=ERASED, ticket_id=None))
    await conn.execute(delete(R).where(or_(R.c.person_id == person_id, R.c.ticket_id.in_(ticket_ids))))
    step()
    for tbl in (C, LC, I, QM, KO, TS, DR):
        await conn.execute(delete(tbl).where(tbl.c.person_id == person_id))
    await conn.execute(update(P).where(P.c.id == person_id).values(
        handle=None, display_name=f"erased #{person_id}", country=None, institution=None, job_title=None,
        sector=None, region=None, role="practitioner", blocked=False, unreachable_at=now))
    step()
    return counts


ERASE_STEPS = 7  # the step() calls of erase_person


async def apply_retention(conn: AsyncConnection, now: datetime, months: int, files: FileStore | None = None) -> int:
    """Anonymise the message bodies of tickets closed or resolved more than `months` ago; return how many.

    States, dates, queues and ratings stay, so reports still add up. Files uploaded on those tickets are
    deleted (rows, and their bytes from `files`).
    """
    cutoff = now - timedelta(days=round(months * 30.44))
    old = select(T.c.id).where(T.c.state.in_(("resolved", "closed")), T.c.question != ERASED,
                               func.coalesce(T.c.closed_at, T.c.resolved_at) < cutoff)
    ids = [r.id for r in await conn.execute(old)]
    if not ids:
        return 0
    await forget(conn, files, F.c.message_id.in_(select(M.c.id).where(M.c.ticket_id.in_(ids))))
    await conn.execute(update(M).where(M.c.ticket_id.in_(ids)).values(text=ERASED, attachments=None))
    await conn.execute(update(O).where(O.c.ticket_id.in_(ids)).values(text=ERASED, buttons=None, attachments=None))
    await conn.execute(update(T).where(T.c.id.in_(ids)).values(question=ERASED, summary=ERASED, rating_comment=None))
    await conn.execute(update(A).where(A.c.ticket_id.in_(ids)).values(detail=None))
    return len(ids)
