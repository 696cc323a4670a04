"""Load knowledge-base YAML files into :class:`KBEntry` objects.

Pure: reads files, touches no database and no network.

A KB file is a YAML list of entries (a single mapping is accepted too)::

    - id: ndc-update-steps
      topic: ndc-update-steps        # optional; same topic = translations
      lang: en
      queue: STRATEGY
      question: What does an NDC update involve?
      phrasings:
        - How do we update our NDC?
      answer: >
        ...
      source: https://unfccc.int/...
      tags: [ndc, ambition]
      owner: strategy-lead
      review_by: 2027-06-30

Every problem in every file is collected first and raised together as one
:class:`KBFileError`, so a directory is either loaded entirely or not at all.
Suspicious but harmless things (the same question twice in one language) are
returned as warnings.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kb.entry import LANGUAGES, KBEntry

# The starter FAQ (seven queues, en/es/fr) ships in the wheel: `helpdesk kb import` reads it when given no folder.
STARTER_KB = Path(str(resources.files("kb") / "content"))

__all__ = [
    "ID_PATTERN",
    "KBFileError",
    "KBLoadResult",
    "KBProblem",
    "load_kb_dir",
    "load_kb_file",
    "normalise_question",
]

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,80}")
_DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
_WS = re.compile(r"\s+")

REQUIRED_FIELDS: tuple[str, ...] = ("id", "question", "answer", "queue", "lang", "source")
OPTIONAL_FIELDS: tuple[str, ...] = ("phrasings", "tags", "owner", "review_by", "topic")
ALL_FIELDS: frozenset[str] = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)
KB_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")


@dataclass(frozen=True)
class KBProblem:
    """One error or warning, located in a file (``line`` is 1-based)."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


class KBFileError(Exception):
    """One or more KB files are invalid; ``problems`` lists every error found."""

    def __init__(self, problems: Iterable[KBProblem]) -> None:
        self.problems: list[KBProblem] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


@dataclass
class KBLoadResult:
    """What :func:`load_kb_dir` found: the entries and any warnings."""

    entries: list[KBEntry] = field(default_factory=list)
    warnings: list[KBProblem] = field(default_factory=list)


def normalise_question(text: str) -> str:
    """Casefold and collapse whitespace, for duplicate detection."""
    return _WS.sub(" ", text.casefold()).strip()


class _KBLoader(yaml.SafeLoader):
    """Safe loader that keeps dates as strings, so we validate them ourselves.

    (The stock resolver turns ``2027-02-30`` into a constructor crash and
    ``2027-01-01 10:00`` into a datetime; we want a clear message for both.)
    """


_KBLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _FileLoader:
    """Parses and validates one file, appending every problem to a shared error list."""

    def __init__(self, path: Path, display: str, errors: list[KBProblem], known_queues: Collection[str] | None) -> None:
        self.path = path
        self.display = display
        self.errors = errors
        self.known_queues = known_queues

    def error(self, line: int | None, message: str) -> None:
        self.errors.append(KBProblem(self.display, line, message))

    def load(self) -> list[KBEntry]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.error(None, f"cannot read file: {exc}")
            return []
        loader = _KBLoader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return []
            data = loader.construct_document(root)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            detail = " ".join(str(x) for x in (exc.context, exc.problem) if x) or "invalid YAML"
            self.error(int(mark.line) + 1 if mark else None, f"invalid YAML: {detail}")
            return []
        except yaml.YAMLError as exc:
            self.error(None, f"invalid YAML: {exc}")
            return []
        finally:
            loader.dispose()

        if isinstance(root, SequenceNode) and isinstance(data, list):
            pairs = list(zip(root.value, data, strict=True))
        elif isinstance(root, MappingNode) and isinstance(data, dict):
            pairs = [(root, data)]
        else:
            self.error(_line(root), "a KB file must be a list of entries (or a single entry mapping)")
            return []

        entries: list[KBEntry] = []
        for node, value in pairs:
            entry = self.entry(node, value)
            if entry is not None:
                entries.append(entry)
        return entries

    def entry(self, node: Node, data: Any) -> KBEntry | None:
        line = _line(node)
        if not isinstance(node, MappingNode) or not isinstance(data, dict):
            self.error(line, "entry must be a mapping of fields")
            return None
        before = len(self.errors)

        key_lines: dict[str, int] = {}
        for key_node, _value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(_line(key_node), "field names must be plain strings")
                continue
            key = str(key_node.value)
            if key in key_lines:
                self.error(_line(key_node), f"field {key!r} given twice (first at line {key_lines[key]})")
            else:
                key_lines[key] = _line(key_node)

        label = f"entry {data['id']!r}" if isinstance(data.get("id"), str) else "entry"
        for key in data:
            if not isinstance(key, str) or key not in ALL_FIELDS:
                where = key_lines.get(key, line) if isinstance(key, str) else line
                self.error(where, f"{label}: unknown field {key!r} (allowed: {', '.join(sorted(ALL_FIELDS))})")
        for key in REQUIRED_FIELDS:
            if data.get(key) is None:
                self.error(line, f"{label}: missing required field {key!r}")

        def at(key: str) -> int:
            return key_lines.get(key, line)

        def text(key: str, *, required: bool) -> str:
            value = data.get(key)
            if value is None:
                return ""  # missing required fields already reported
            if not isinstance(value, str):
                self.error(at(key), f"{label}: field {key!r} must be a string, got {type(value).__name__}")
                return ""
            value = value.strip()
            if required and not value:
                self.error(at(key), f"{label}: field {key!r} must not be empty")
            return value

        def text_list(key: str) -> tuple[str, ...]:
            value = data.get(key)
            if value is None:
                return ()
            if not isinstance(value, list):
                self.error(at(key), f"{label}: field {key!r} must be a list of strings")
                return ()
            out: list[str] = []
            for item in value:
                if not isinstance(item, str) or not item.strip():
                    self.error(at(key), f"{label}: every item of {key!r} must be a non-empty string")
                    return ()
                out.append(item.strip())
            return tuple(out)

        entry_id = text("id", required=True)
        if entry_id and not ID_PATTERN.fullmatch(entry_id):
            self.error(
                at("id"),
                f"invalid id {entry_id!r}: use 2-81 characters from a-z 0-9 . _ -, starting with a letter or digit",
            )
        question = text("question", required=True)
        answer = text("answer", required=True)
        queue = text("queue", required=True)
        if queue and self.known_queues is not None and queue not in self.known_queues:
            self.error(
                at("queue"),
                f"{label}: unknown queue {queue!r} (known: {', '.join(sorted(self.known_queues))})",
            )
        lang = text("lang", required=True)
        if lang and lang not in LANGUAGES:
            self.error(at("lang"), f"{label}: lang {lang!r} is not one of {', '.join(LANGUAGES)}")
        source = text("source", required=True)
        if source and not _is_http_url(source):
            self.error(at("source"), f"{label}: source {source!r} must be an http(s) URL")
        owner = text("owner", required=False)
        topic = text("topic", required=False)
        if topic and not ID_PATTERN.fullmatch(topic):
            self.error(at("topic"), f"{label}: invalid topic {topic!r} (same rules as ids)")
        phrasings = text_list("phrasings")
        tags = text_list("tags")
        review_by = self.review_date(data.get("review_by"), at("review_by"), label)

        if len(self.errors) != before:
            return None
        return KBEntry(
            id=entry_id,
            question=question,
            answer=answer,
            queue=queue,
            lang=lang,
            phrasings=phrasings,
            source=source,
            tags=tags,
            owner=owner,
            review_by=review_by,
            topic=topic,
            origin=f"{self.display}:{line}",
        )

    def review_date(self, value: Any, line: int, label: str) -> date | None:
        if value is None:
            return None
        if isinstance(value, str) and _DATE_PATTERN.fullmatch(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.error(line, f"{label}: review_by {value!r} is not a valid date (YYYY-MM-DD)")
        return None


def _is_http_url(value: str) -> bool:
    if any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _split_origin(origin: str) -> tuple[str, int | None]:
    path, sep, line = origin.rpartition(":")
    if sep and line.isdigit():
        return path, int(line)
    return origin, None


def _check_duplicates(entries: list[KBEntry], errors: list[KBProblem], warnings: list[KBProblem]) -> None:
    by_id: dict[str, KBEntry] = {}
    by_question: dict[tuple[str, str], KBEntry] = {}
    by_topic: dict[tuple[str, str], KBEntry] = {}
    for e in entries:
        path, line = _split_origin(e.origin)
        first = by_id.get(e.id)
        if first is not None:
            errors.append(KBProblem(path, line, f"duplicate id {e.id!r}: also defined at {first.origin}"))
            continue
        by_id[e.id] = e

        qkey = (e.lang, normalise_question(e.question))
        first = by_question.get(qkey)
        if first is not None:
            warnings.append(
                KBProblem(
                    path,
                    line,
                    f"entry {e.id!r} has the same question ({e.lang}) as {first.id!r} at {first.origin}",
                )
            )
        else:
            by_question[qkey] = e

        tkey = (e.lang, e.topic_key)
        first = by_topic.get(tkey)
        if first is not None:
            warnings.append(
                KBProblem(
                    path,
                    line,
                    f"entry {e.id!r} has the same topic {e.topic_key!r} and language ({e.lang}) "
                    f"as {first.id!r} at {first.origin}",
                )
            )
        else:
            by_topic[tkey] = e


def _finish(entries: list[KBEntry], errors: list[KBProblem]) -> KBLoadResult:
    warnings: list[KBProblem] = []
    _check_duplicates(entries, errors, warnings)
    if errors:
        raise KBFileError(errors)
    return KBLoadResult(entries=entries, warnings=warnings)


def load_kb_dir(directory: Path, known_queues: Collection[str] | None = None) -> KBLoadResult:
    """Load every ``*.yaml`` / ``*.yml`` file directly in ``directory``, in name order.

    Raises :class:`KBFileError` listing every problem if anything is invalid;
    nothing is returned half-loaded. Origins and problem paths are relative
    to ``directory``.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise KBFileError([KBProblem(str(directory), None, "not a directory")])
    files = sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix in KB_SUFFIXES and not p.name.startswith(".")
    )
    errors: list[KBProblem] = []
    entries: list[KBEntry] = []
    for path in files:
        display = path.relative_to(directory).as_posix()
        entries.extend(_FileLoader(path, display, errors, known_queues).load())
    return _finish(entries, errors)


def load_kb_file(path: Path, known_queues: Collection[str] | None = None) -> list[KBEntry]:
    """Load one KB file (same checks as :func:`load_kb_dir`; warnings are dropped).

    Origins and problem paths use the file name.
    """
    path = Path(path)
    errors: list[KBProblem] = []
    entries = _FileLoader(path, path.name, errors, known_queues).load()
    return _finish(entries, errors).entries
