"""The knowledge base as the bot uses it: FAQ entries from the database, a matcher over them, triage."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import ServiceConfig
from bot.db.models import KBEntryRow, KBEntryVersion, table
from kb.entry import KBEntry
from kb.matcher import Matcher
from kb.semantic import SemanticReranker
from kb.triage import Route, Router, Thresholds, TriageResult, decide, is_chatter

E = table(KBEntryRow)
V = table(KBEntryVersion)


CANONICAL_LANGUAGE = "en"  # every topic is written in English first; other languages are translations
TRIAGE_CACHE = 4096  # questions whose triage is remembered (a few MB at most)
MatcherFactory = Callable[[Sequence[KBEntry]], Matcher | SemanticReranker]


class KnowledgeBase:
    """Current FAQ entries and the matcher over them; pure once loaded.

    `make_matcher` builds the matcher (the hybrid `Matcher` by default; the semantic re-ranker of
    the `semantic` extra when HELPDESK_SEMANTIC_WEIGHT is set).
    """

    def __init__(self, entries: Sequence[KBEntry], config: ServiceConfig,
                 make_matcher: MatcherFactory = Matcher) -> None:
        self.entries = {e.id: e for e in entries}
        self._by_topic = {(e.topic_key, e.lang): e for e in entries}
        self.matcher = make_matcher(entries)
        self._make_matcher = make_matcher
        self._config = config
        self._default = self._limits(None)
        self._per_queue = {q.id: self._limits(q.id) for q in config.queues if q.matcher is not None}
        self._per_language = {lang: Thresholds(answer=m.answer, margin=m.margin, suggest=m.suggest)
                              for lang, m in config.matcher.languages.items()}
        self._router = Router({q.id: q.keywords for q in config.queues})
        # Practitioners ask the same questions (and press the same suggestions) again and again; a
        # reloaded KB is a new KnowledgeBase, so nothing stale is ever remembered.
        self._remembered = lru_cache(maxsize=TRIAGE_CACHE)(self._triage)

    def rebuilt(self, entries: Sequence[KBEntry]) -> KnowledgeBase:
        """The same configuration and kind of matcher over other entries."""
        return KnowledgeBase(entries, self._config, self._make_matcher)

    def _limits(self, queue: str | None) -> Thresholds:
        m = self._config.thresholds(queue)
        return Thresholds(answer=m.answer, margin=m.margin, suggest=m.suggest)

    def triage(self, text: str, lang: str) -> TriageResult:
        """What the bot would do with this question (the same question asked again is not matched again)."""
        return self._remembered(text, lang)

    @property
    def triage_hit_rate(self) -> float:
        """Share of triage calls answered from memory since this KB was loaded."""
        info = self._remembered.cache_info()
        return info.hits / ((info.hits + info.misses) or 1)

    def _triage(self, text: str, lang: str) -> TriageResult:
        default = self._per_language.get(lang, self._default)  # a queue's own thresholds still win
        if is_chatter(text):  # "4", "ok", "merci", emoji: nothing to match
            return TriageResult("chatter", lang, [], default, Route(None, {}, ["not a question: no content words"]))
        candidates = self.matcher.search(text, lang=lang, k=5)
        decision, limits = decide(candidates, self._per_queue, default)
        where = self._router.route(text, lang, candidates, limits.suggest)
        return TriageResult(decision, lang, candidates, limits, where)

    def route(self, text: str, lang: str) -> Route:
        """The queue for a question that becomes a ticket."""
        return self.triage(text, lang).route

    def for_reader(self, entry_id: str, lang: str) -> KBEntry:
        """The entry to show someone reading `lang`: the topic in `lang`, else in the KB's canonical
        language (English), else the entry itself."""
        return (self.in_language(entry_id, lang) or self.in_language(entry_id, CANONICAL_LANGUAGE)
                or self.entries[entry_id])

    def in_language(self, entry_id: str, lang: str) -> KBEntry | None:
        """The same topic in `lang`, when the KB has it."""
        entry = self.entries.get(entry_id)
        if entry is None:
            return None
        if entry.lang == lang:
            return entry
        return self._by_topic.get((entry.topic_key, lang))


def _entry(row: Any) -> KBEntry:
    return KBEntry(
        id=row.id, question=row.question, answer=row.answer, queue=row.queue_id, lang=row.lang,
        phrasings=tuple(row.phrasings or ()), source=row.source, tags=tuple(row.tags or ()),
        owner=row.owner, review_by=row.review_by, topic=row.topic if row.topic != row.id else "",
        origin=row.origin,
    )


async def kb_version(conn: AsyncConnection) -> str:
    """Changes whenever an entry is added, changed, retired or restored (by any process)."""
    count, latest = (await conn.execute(select(func.count(), func.max(E.c.updated_at)))).one()
    return f"{count}:{latest.isoformat() if latest else ''}"


async def load_entries(conn: AsyncConnection, include_retired: bool = False) -> list[KBEntry]:
    """Current versions of the FAQ entries."""
    query = (
        select(E.c.id, E.c.topic, E.c.queue_id, E.c.lang, V.c.question, V.c.phrasings, V.c.answer,
               V.c.source, V.c.tags, V.c.owner, V.c.review_by, V.c.origin)
        .join(V, (V.c.entry_id == E.c.id) & (V.c.version == E.c.version))
        .order_by(E.c.id)
    )
    if not include_retired:
        query = query.where(E.c.retired_at.is_(None))
    return [_entry(r) for r in await conn.execute(query)]


def _version_row(entry: KBEntry, version: int, now: datetime) -> dict[str, Any]:
    return {
        "entry_id": entry.id, "version": version, "question": entry.question,
        "phrasings": list(entry.phrasings), "answer": entry.answer, "source": entry.source,
        "tags": list(entry.tags), "owner": entry.owner, "review_by": entry.review_by,
        "origin": entry.origin, "created_at": now,
    }


async def import_entries(conn: AsyncConnection, entries: Sequence[KBEntry], now: datetime,
                         retire_missing: bool = True, progress: Callable[[int, int], None] | None = None,
                         ) -> dict[str, int]:
    """Store entries: new ones added, changed ones versioned, missing ones retired (never deleted).

    Idempotent: importing the same files twice changes nothing. ``retire_missing=False`` adds or
    updates the given entries and leaves the others alone (an approved draft). `progress(done, total)`
    follows the entries.
    """
    existing = {r.id: r for r in await conn.execute(select(E.c.id, E.c.version, E.c.content_hash,
                                                           E.c.retired_at))}
    counts = {"added": 0, "updated": 0, "unchanged": 0, "retired": 0, "restored": 0}
    for done, entry in enumerate(entries, 1):
        if progress is not None:
            progress(done - 1, len(entries))
        digest = entry.content_hash()
        row = existing.get(entry.id)
        values = {"topic": entry.topic_key, "queue_id": entry.queue, "lang": entry.lang,
                  "content_hash": digest, "retired_at": None, "updated_at": now}
        if row is None:
            await conn.execute(insert(E).values(id=entry.id, version=1, **values))
            await conn.execute(insert(V).values(**_version_row(entry, 1, now)))
            counts["added"] += 1
        elif row.content_hash != digest:
            await conn.execute(insert(V).values(**_version_row(entry, row.version + 1, now)))
            await conn.execute(update(E).where(E.c.id == entry.id).values(version=row.version + 1, **values))
            counts["updated"] += 1
        elif row.retired_at is not None:
            await conn.execute(update(E).where(E.c.id == entry.id).values(retired_at=None, updated_at=now))
            counts["restored"] += 1
        else:
            counts["unchanged"] += 1
    if progress is not None:
        progress(len(entries), len(entries))
    gone = [i for i, r in existing.items() if r.retired_at is None and i not in {e.id for e in entries}]
    if gone and retire_missing:
        await conn.execute(update(E).where(E.c.id.in_(gone)).values(retired_at=now, updated_at=now))
        counts["retired"] = len(gone)
    return counts
