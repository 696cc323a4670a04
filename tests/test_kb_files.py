"""Tests for kb.files: the shipped FAQ content and the loader's error handling."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from kb.entry import KBEntry
from kb.files import KBFileError, KBProblem, load_kb_dir, load_kb_file

QUEUES = ("STRATEGY", "MRV", "ENERGY", "TRANSPORT", "AFOLU", "FINANCE", "SUBNATIONAL")
CONTENT_DIR = Path(__file__).resolve().parent.parent / "kb" / "content"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def entry_yaml(
    entry_id: str,
    *,
    question: str = "What is an NDC?",
    lang: str = "en",
    queue: str = "STRATEGY",
    extra: str = "",
) -> str:
    """One valid entry as a YAML list item (6 lines, plus any extra lines)."""
    text = (
        f"- id: {entry_id}\n"
        f'  question: "{question}"\n'
        f"  answer: An answer.\n"
        f"  queue: {queue}\n"
        f"  lang: {lang}\n"
        f"  source: https://unfccc.int/\n"
    )
    return text + extra


# --------------------------------------------------------------------------- shipped content


@pytest.fixture(scope="module")
def shipped() -> list[KBEntry]:
    result = load_kb_dir(CONTENT_DIR, known_queues=QUEUES)
    assert result.warnings == [], "\n".join(str(w) for w in result.warnings)
    return result.entries


def test_shipped_content_loads_without_errors(shipped: list[KBEntry]) -> None:
    assert len(shipped) >= 40


def test_shipped_content_languages(shipped: list[KBEntry]) -> None:
    langs = Counter(e.lang for e in shipped)
    assert langs["es"] >= 10
    assert langs["fr"] >= 10
    assert langs["en"] >= 20


def test_every_queue_has_at_least_five_entries(shipped: list[KBEntry]) -> None:
    per_queue = Counter(e.queue for e in shipped)
    for queue in QUEUES:
        assert per_queue[queue] >= 5, f"{queue} has only {per_queue[queue]} entries"


def test_shipped_sources_are_https(shipped: list[KBEntry]) -> None:
    bad = [e.id for e in shipped if not re.match(r"^https://[a-z0-9.-]+\.[a-z]{2,}(/\S*)?$", e.source)]
    assert bad == []


def test_shipped_ids_unique(shipped: list[KBEntry]) -> None:
    counts = Counter(e.id for e in shipped)
    assert [i for i, n in counts.items() if n > 1] == []


def test_shipped_entries_are_complete(shipped: list[KBEntry]) -> None:
    problems = []
    for e in shipped:
        words = len(e.answer.split())
        if not 60 <= words <= 180:
            problems.append(f"{e.origin} {e.id}: answer has {words} words")
        if not 3 <= len(e.phrasings) <= 6:
            problems.append(f"{e.origin} {e.id}: {len(e.phrasings)} phrasings")
        if not e.tags or not e.owner or not e.topic:
            problems.append(f"{e.origin} {e.id}: tags, owner or topic missing")
        if e.review_by is None or e.review_by.year != 2027:
            problems.append(f"{e.origin} {e.id}: review_by {e.review_by}")
        if not re.fullmatch(r"[a-z0-9.+-]+\.yaml:\d+", e.origin):
            problems.append(f"{e.id}: origin {e.origin!r}")
    assert problems == []


def test_shipped_translations_share_topics(shipped: list[KBEntry]) -> None:
    by_topic: dict[str, set[str]] = {}
    for e in shipped:
        by_topic.setdefault(e.topic_key, set()).add(e.lang)
    translated = [t for t, langs in by_topic.items() if len(langs) > 1]
    assert len(translated) >= 10
    # A topic never has two entries in the same language (loader would warn).
    assert sum(len(langs) for langs in by_topic.values()) == len(shipped)


# --------------------------------------------------------------------------- loading basics


def test_loads_entries_with_origin_and_fields(tmp_path: Path) -> None:
    write(
        tmp_path,
        "mrv.yaml",
        """
        # comment line
        - id: btr-basics
          topic: btr
          question: "  What is a   BTR? "
          phrasings: ["What goes into a BTR?", "BTR contents"]
          answer: |
            A biennial transparency report.
          source: http://unfccc.int/btr
          queue: MRV
          lang: en
          tags: [btr, etf]
          owner: mrv-lead
          review_by: 2027-05-31

        - id: btr-basics-fr
          topic: btr
          question: Qu'est-ce qu'un BTR ?
          answer: Un rapport biennal.
          source: https://unfccc.int/btr
          queue: MRV
          lang: fr
        """,
    )
    result = load_kb_dir(tmp_path, known_queues=QUEUES)
    assert result.warnings == []
    first, second = result.entries
    assert first == KBEntry(
        id="btr-basics",
        question="What is a   BTR?",
        answer="A biennial transparency report.",
        queue="MRV",
        lang="en",
        phrasings=("What goes into a BTR?", "BTR contents"),
        source="http://unfccc.int/btr",
        tags=("btr", "etf"),
        owner="mrv-lead",
        review_by=date(2027, 5, 31),
        topic="btr",
    )
    assert first.origin == "mrv.yaml:2"
    assert second.origin == "mrv.yaml:15"
    assert second.phrasings == () and second.review_by is None and second.tags == ()


def test_reads_yaml_and_yml_sorted_and_single_mapping(tmp_path: Path) -> None:
    write(tmp_path, "b.yml", entry_yaml("second-entry", question="Second?"))
    write(
        tmp_path,
        "a.yaml",
        """
        id: first-entry
        question: First?
        answer: Yes.
        queue: ENERGY
        lang: es
        source: https://www.irena.org/
        """,
    )
    write(tmp_path, "notes.txt", "- not: loaded\n")
    result = load_kb_dir(tmp_path)
    assert [e.id for e in result.entries] == ["first-entry", "second-entry"]
    assert [e.origin for e in result.entries] == ["a.yaml:1", "b.yml:1"]


def test_empty_file_gives_no_entries(tmp_path: Path) -> None:
    write(tmp_path, "empty.yaml", "# nothing yet\n")
    assert load_kb_dir(tmp_path).entries == []


def test_load_kb_file(tmp_path: Path) -> None:
    path = write(tmp_path, "one.yaml", entry_yaml("only-one") + entry_yaml("only-two", question="Other?"))
    entries = load_kb_file(path)
    assert [e.id for e in entries] == ["only-one", "only-two"]
    assert entries[1].origin == "one.yaml:7"


# --------------------------------------------------------------------------- errors


def test_bad_yaml_reports_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", entry_yaml("fine-entry"))
    write(
        tmp_path,
        "broken.yaml",
        """
        - id: broken-entry
          question: "What: is it?"
          answer: this: is not allowed
          queue: MRV
        """,
    )
    with pytest.raises(KBFileError) as info:
        load_kb_dir(tmp_path)
    message = str(info.value)
    assert "broken.yaml:3:" in message
    assert "invalid YAML" in message
    assert [(p.path, p.line) for p in info.value.problems] == [("broken.yaml", 3)]


def test_missing_required_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        "kb.yaml",
        entry_yaml("complete-entry")
        + """\
- id: incomplete-entry
  question: Where is the answer?
  queue: MRV
  lang: en
""",
    )
    with pytest.raises(KBFileError) as info:
        load_kb_dir(tmp_path)
    assert info.value.problems == [
        KBProblem("kb.yaml", 7, "entry 'incomplete-entry': missing required field 'answer'"),
        KBProblem("kb.yaml", 7, "entry 'incomplete-entry': missing required field 'source'"),
    ]
    assert str(info.value).splitlines()[0] == ("kb.yaml:7: entry 'incomplete-entry': missing required field 'answer'")


def test_unknown_queue(tmp_path: Path) -> None:
    write(tmp_path, "kb.yaml", entry_yaml("misrouted", queue="HEALTH"))
    assert [e.id for e in load_kb_dir(tmp_path).entries] == ["misrouted"]  # no check without queues
    with pytest.raises(KBFileError) as info:
        load_kb_dir(tmp_path, known_queues=QUEUES)
    (problem,) = info.value.problems
    assert (problem.path, problem.line) == ("kb.yaml", 4)
    assert "unknown queue 'HEALTH'" in problem.message


def test_duplicate_ids_name_both_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", entry_yaml("same-id"))
    write(tmp_path, "b.yaml", entry_yaml("other-id", question="Other?") + entry_yaml("same-id", question="Q2?"))
    with pytest.raises(KBFileError) as info:
        load_kb_dir(tmp_path)
    (problem,) = info.value.problems
    assert str(problem) == "b.yaml:7: duplicate id 'same-id': also defined at a.yaml:1"


def test_invalid_review_date(tmp_path: Path) -> None:
    write(tmp_path, "kb.yaml", entry_yaml("dated", extra="  review_by: 2027-02-30\n"))
    with pytest.raises(KBFileError) as info:
        load_kb_dir(tmp_path)
    (problem,) = info.value.problems
    assert problem.line == 7
    assert "review_by '2027-02-30' is not a valid date" in problem.message


@pytest.mark.parametrize(
    "value", ["'30/06/2027'", "2027-6-30", "2027-06-30 10:00:00", "'20270630'", "'2027-W26-3'", "20270630"]
)
def test_review_date_formats_rejected(tmp_path: Path, value: str) -> None:
    write(tmp_path, "kb.yaml", entry_yaml("dated", extra=f"  review_by: {value}\n"))
    with pytest.raises(KBFileError, match="review_by"):
        load_kb_dir(tmp_path)


def test_quoted_review_date_accepted(tmp_path: Path) -> None:
    write(tmp_path, "kb.yaml", entry_yaml("dated", extra='  review_by: "2027-06-30"\n'))
    assert load_kb_dir(tmp_path).entries[0].review_by == date(2027, 6, 30)


def test_duplicate_question_warning(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", entry_yaml("first-q", question="What is an NDC?"))
    write(
        tmp_path,
        "b.yaml",
        entry_yaml("second-q", question="what  is an ndc?")
        + entry_yaml("spanish-q", question="What is an NDC?", lang="es"),
    )
    result = load_kb_dir(tmp_path)
    assert len(result.entries) == 3
    (warning,) = result.warnings
    assert (warning.path, warning.line) == ("b.yaml", 1)
    assert "'second-q'" in warning.message
    assert "'first-q' at a.yaml:1" in warning.message


def test_same_topic_same_language_warning(tmp_path: Path) -> None:
    write(
        tmp_path,
        "kb.yaml",
        entry_yaml("one-a", question="A?", extra="  topic: shared\n")
        + entry_yaml("one-b", question="B?", extra="  topic: shared\n"),
    )
    (warning,) = load_kb_dir(tmp_path).warnings
    assert warning.line == 8
    assert "same topic 'shared'" in warning.message


@pytest.mark.parametrize(
    ("extra", "line", "fragment"),
    [
        ("  colour: blue\n", 7, "unknown field 'colour'"),
        ("  tags: ndc\n", 7, "field 'tags' must be a list of strings"),
        ("  phrasings: [ok, 12]\n", 7, "every item of 'phrasings' must be a non-empty string"),
        ("  owner: [a, b]\n", 7, "field 'owner' must be a string"),
        ("  topic: Not A Topic\n", 7, "invalid topic"),
    ],
)
def test_field_type_errors(tmp_path: Path, extra: str, line: int, fragment: str) -> None:
    write(tmp_path, "kb.yaml", entry_yaml("typed", extra=extra))
    with pytest.raises(KBFileError) as info:
        load_kb_dir(tmp_path)
    (problem,) = info.value.problems
    assert problem.line == line
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("entry_id", "lang", "fragment"),
    [
        ("Bad_ID", "en", "invalid id 'Bad_ID'"),
        ("x", "en", "invalid id 'x'"),
        ("-leading-dash", "en", "invalid id"),
        ("fine-id", "pt", "lang 'pt' is not one of en, es, fr"),
    ],
)
def test_id_and_lang_errors(tmp_path: Path, entry_id: str, lang: str, fragment: str) -> None:
    write(tmp_path, "kb.yaml", entry_yaml(entry_id, lang=lang))
    with pytest.raises(KBFileError, match=re.escape(fragment)):
        load_kb_dir(tmp_path)


@pytest.mark.parametrize("source", ["ftp://example.org/x", "unfccc.int", "https://", "https://a b.org/"])
def test_source_must_be_http_url(tmp_path: Path, source: str) -> None:
    text = entry_yaml("sourced").replace("https://unfccc.int/", f'"{source}"')
    write(tmp_path, "kb.yaml", text)
    with pytest.raises(KBFileError) as info:
        load_kb_dir(tmp_path)
    (problem,) = info.value.problems
    assert problem.line == 6
    assert "must be an http(s) URL" in problem.message


def test_id_must_be_string(tmp_path: Path) -> None:
    write(tmp_path, "kb.yaml", entry_yaml("placeholder").replace("id: placeholder", "id: 2030"))
    with pytest.raises(KBFileError, match="field 'id' must be a string, got int"):
        load_kb_dir(tmp_path)


def test_non_mapping_entry_and_bad_top_level(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", entry_yaml("good-one") + "- just a string\n")
    write(tmp_path, "b.yaml", "just text\n")
    with pytest.raises(KBFileError) as info:
        load_kb_dir(tmp_path)
    assert [(p.path, p.line) for p in info.value.problems] == [("a.yaml", 7), ("b.yaml", 1)]
    assert "entry must be a mapping" in info.value.problems[0].message
    assert "must be a list of entries" in info.value.problems[1].message


def test_duplicate_key_in_entry(tmp_path: Path) -> None:
    write(tmp_path, "kb.yaml", entry_yaml("twice", extra="  lang: fr\n"))
    with pytest.raises(KBFileError, match=r"kb\.yaml:7: field 'lang' given twice \(first at line 5\)"):
        load_kb_dir(tmp_path)


def test_all_errors_collected_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", entry_yaml("good-a") + entry_yaml("bad lang", lang="de"))
    write(tmp_path, "b.yaml", "- id: [unclosed\n")
    write(tmp_path, "c.yaml", entry_yaml("good-c", question="C?", queue="NOPE"))
    with pytest.raises(KBFileError) as info:
        load_kb_dir(tmp_path, known_queues=QUEUES)
    problems = info.value.problems
    assert [p.path for p in problems] == ["a.yaml", "a.yaml", "b.yaml", "c.yaml"]
    lines = str(info.value).splitlines()
    assert len(lines) == 4
    assert all(re.match(r"^[abc]\.yaml:\d+: ", line) for line in lines)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(KBFileError, match="not a directory"):
        load_kb_dir(tmp_path / "nope")


def test_problem_without_line_formats_path_only() -> None:
    assert str(KBProblem("x.yaml", None, "cannot read")) == "x.yaml: cannot read"
    err = KBFileError([KBProblem("a.yaml", 3, "one"), KBProblem("b.yaml", None, "two")])
    assert str(err) == "a.yaml:3: one\nb.yaml: two"
