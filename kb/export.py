"""Write FAQ entries back to YAML files (one per queue) that :func:`kb.files.load_kb_dir` reads identically. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from kb.entry import KBEntry

HEADER = "# {queue} queue, exported by `helpdesk kb export`. Entries sharing a `topic` are translations.\n\n"


def entry_data(entry: KBEntry) -> dict[str, Any]:
    """The entry as a YAML mapping, fields in the order of the shipped files, empty optional ones left out.

    The topic is always written (the database does not keep whether a file spelt out ``topic: <own id>``).
    """
    data: dict[str, Any] = {"id": entry.id, "topic": entry.topic_key, "lang": entry.lang, "queue": entry.queue,
                            "question": entry.question, "phrasings": list(entry.phrasings),
                            "answer": entry.answer, "source": entry.source, "tags": list(entry.tags),
                            "owner": entry.owner, "review_by": entry.review_by.isoformat() if entry.review_by else None}
    return {k: v for k, v in data.items() if v or k in ("id", "lang", "queue", "question", "answer", "source")}


def dump_entries(entries: Sequence[KBEntry]) -> dict[str, str]:
    """File name -> YAML text, one file per queue."""
    by_queue: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_queue.setdefault(entry.queue, []).append(entry_data(entry))
    return {f"{queue.lower()}.yaml": HEADER.format(queue=queue)
            + yaml.safe_dump(items, allow_unicode=True, sort_keys=False, width=100)
            for queue, items in sorted(by_queue.items())}


def write_kb_dir(entries: Sequence[KBEntry], directory: Path) -> list[Path]:
    """Write the entries to ``directory`` (created if needed); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in dump_entries(entries).items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
