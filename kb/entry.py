"""The FAQ entry as the matcher and the loaders see it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date

LANGUAGES: tuple[str, ...] = ("en", "es", "fr")


@dataclass(frozen=True)
class KBEntry:
    """One FAQ entry in one language.

    Entries that say the same thing in several languages share a ``topic``
    (defaults to the id), so the bot can fall back to another language.
    """

    id: str
    question: str
    answer: str
    queue: str
    lang: str
    phrasings: tuple[str, ...] = ()
    source: str = ""
    tags: tuple[str, ...] = ()
    owner: str = ""
    review_by: date | None = None
    topic: str = ""
    origin: str = field(default="", compare=False)  # "file.yaml:12", for messages

    @property
    def topic_key(self) -> str:
        """The topic this entry belongs to (its own id when not set)."""
        return self.topic or self.id

    def content_hash(self) -> str:
        """A stable hash of everything but the origin, to detect changed entries."""
        data = asdict(self)
        data.pop("origin")
        data["review_by"] = self.review_by.isoformat() if self.review_by else None
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
