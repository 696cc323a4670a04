"""`helpdesk kb …` for knowledge quality: eval, tune, drafts, export, stale, stats, gaps."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.app import HelpDesk
from bot.cli.common import RowId, console, desk, fail, run, settings
from bot.cli.progress import progress
from bot.config import DEFAULT_CONFIG, ConfigError, MatcherThresholds, load_config
from bot.core import kb_drafts, kb_metrics
from bot.core.knowledge import load_entries
from bot.core.outcome_report import OutcomeRow, applied_by_entry
from bot.core.reports import percent_text
from kb.entry import KBEntry
from kb.evaluation import EvalDataError, EvalSet, evaluate, load_eval_dir, tune
from kb.export import write_kb_dir
from kb.files import KBFileError, load_kb_dir
from kb.matcher import Matcher

T = TypeVar("T")
_SECTION = re.compile(r"^\s*\[([^\]]+)\]")


def _config_path(path: Path | None) -> Path:
    return path or Path(settings().helpdesk_config or DEFAULT_CONFIG)


def _thresholds(path: Path | None) -> MatcherThresholds:
    try:
        return load_config(_config_path(path)).matcher
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _eval_set(directory: Path, kb_dir: Path | None) -> EvalSet:
    """The labelled set: DIR's faq.jsonl, or the KB files of ``kb_dir`` with DIR's queries."""
    try:
        entries = load_kb_dir(kb_dir).entries if kb_dir is not None else None
        return load_eval_dir(directory, entries)
    except (EvalDataError, KBFileError) as exc:
        raise fail(str(exc)) from None


KbOption = Annotated[Path | None, typer.Option("--kb", help="use these KB *.yaml files instead of DIR/faq.jsonl")]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="service config file (TOML)")]


def kb_eval(directory: Annotated[Path, typer.Argument(help="folder with faq.jsonl and queries.jsonl")],
            kb_dir: KbOption = None, config: ConfigOption = None,
            answer: Annotated[float | None, typer.Option(min=0, max=1, help="answer threshold (else config)")] = None,
            margin: Annotated[float | None, typer.Option(min=0, max=1, help="margin (else config)")] = None,
            as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """Evaluate the matcher on a labelled query set at the configured (or given) thresholds."""
    data = _eval_set(directory, kb_dir)
    limits = _thresholds(config)
    with progress("kb eval: queries") as report:
        result = evaluate(Matcher(data.entries), data.queries, limits.answer if answer is None else answer,
                          limits.margin if margin is None else margin, limits.suggest, progress=report)
    if as_json:
        console.print_json(json.dumps({"set": data.name, **result.to_dict()}))
        return
    console.print(f"{data.name}: {len(data.entries)} entries, {len(data.queries)} queries", markup=False)
    console.print(result.to_text(), markup=False)


def kb_tune(directory: Annotated[Path, typer.Argument(help="folder with faq.jsonl and queries.jsonl")],
            target_precision: Annotated[float, typer.Option(min=0.5, max=1.0)] = 0.95,
            kb_dir: KbOption = None, config: ConfigOption = None,
            write: Annotated[bool, typer.Option("--write", help="store the thresholds in [matcher]")] = False,
            as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
            language: Annotated[str | None, typer.Option(
                help="tune on this language's queries only; --write stores [matcher.languages.LANG]")] = None,
            ) -> None:
    """Choose answer/margin/suggest thresholds for a target answer precision (dev split if any)."""
    data = _eval_set(directory, kb_dir)
    if language is not None:
        pick = [q for q in (data.dev_queries or data.queries) if q.lang == language]
        if len(pick) < 20:
            raise fail(f"only {len(pick)} {language} queries in {directory}: too few to tune on (20 needed)")
        data = replace(data, queries=tuple(pick), dev_queries=())
    with progress("kb tune: queries") as report:
        chosen = tune(Matcher(data.entries), data, target_precision, progress=report)
    if as_json:
        console.print_json(json.dumps({"set": data.name, **chosen.to_dict()}))
    else:
        console.print(chosen.to_text(), markup=False)
    if not write:
        return
    if not chosen.reachable:
        raise fail(f"target precision {target_precision} not reachable; config left unchanged", code=1)
    path = _config_path(config)
    if path == DEFAULT_CONFIG and config is None:  # inside the installed package: not the operator's to edit
        raise fail("no config file to write: the shipped defaults are part of the package; copy them "
                   "(`helpdesk config example > helpdesk.toml`) and set HELPDESK_CONFIG or pass --config")
    values = {"answer": chosen.answer_threshold, "margin": chosen.margin, "suggest": chosen.suggest_threshold}
    try:
        section_name = f"matcher.languages.{language}" if language else "matcher"
        text, changes = set_matcher_values(path.read_text(encoding="utf-8"), values, section_name)
    except (OSError, ValueError) as exc:
        raise fail(f"{path}: {exc}") from None
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as exc:
        raise fail(f"{path}: written but invalid: {exc}") from None
    for change in changes or ["no change"]:
        console.print(f"{path}: [{section_name}] {change}", markup=False)


def set_matcher_values(text: str, values: dict[str, float], section_name: str = "matcher",
                       ) -> tuple[str, list[str]]:
    """``text`` with the keys of ``[section_name]`` set to ``values`` (3 decimals), comments kept; and what changed.

    A missing ``[matcher.languages.xx]`` table is appended.
    """
    if section_name != "matcher" and not re.search(rf"(?m)^\[{re.escape(section_name)}\]", text):
        body = "".join(f"{k} = {v:.3f}\n" for k, v in values.items())
        return f"{text.rstrip()}\n\n[{section_name}]\n{body}", ["added"]
    lines = text.splitlines(keepends=True)
    section = None
    found: set[str] = set()
    changes = []
    for i, line in enumerate(lines):
        head = _SECTION.match(line)
        if head:
            section = head.group(1).strip()
            continue
        key = re.match(r"^([ \t]*)(\w+)([ \t]*=[ \t]*)([^#\n]*?)([ \t]*)(#.*)?(\n?)$", line)
        if section != section_name or not key or key.group(2) not in values:
            continue
        name = key.group(2)
        new = f"{values[name]:.3f}"
        old = key.group(4).strip()
        found.add(name)
        if old != new:
            changes.append(f"{name}: {old} -> {new}")
        comment = key.group(6) or ""
        pad = " " * max(1, len(old) + len(key.group(5)) - len(new)) if comment else ""  # comment keeps its column
        lines[i] = f"{key.group(1)}{name}{key.group(3)}{new}{pad}{comment}{key.group(7)}"
    missing = [k for k in values if k not in found]
    if missing:
        raise ValueError(f"[{section_name}] has no line for {', '.join(missing)}")
    return "".join(lines), changes


async def _connected(body: Callable[[HelpDesk, AsyncConnection], Awaitable[T]]) -> T:
    """Run ``body(app, conn)`` in one transaction of the configured database."""
    app_ = desk()
    await app_.check_database()
    try:
        async with app_.engine.begin() as conn:
            return await body(app_, conn)
    finally:
        await app_.engine.dispose()


def kb_drafts_cmd(status: Annotated[str, typer.Option(help="pending, approved, rejected or all")] = "pending",
                  ) -> None:
    """List FAQ drafts made from resolved tickets."""
    found = run(_connected(lambda app_, conn: kb_drafts.drafts(conn, None if status == "all" else status)))
    table = Table("id", "ticket", "queue", "lang", "status", "question", "answer")
    for d in found:
        table.add_row(str(d.id), str(d.ticket_id or ""), d.queue_id, d.lang, d.status, d.question, d.answer[:80])
    console.print(table)
    console.print(f"{len(found)} drafts", markup=False)


def _edit(question: str, answer: str) -> tuple[str, str]:
    """Let the reviewer edit the draft in $EDITOR: the first line is the question, the rest the answer."""
    editor = os.environ.get("EDITOR", "vi")
    with tempfile.NamedTemporaryFile("w+", suffix=".txt", encoding="utf-8", delete=False) as handle:
        handle.write(f"{question}\n\n{answer}\n")
        path = Path(handle.name)
    try:
        subprocess.run([*editor.split(), str(path)], check=True)
        first, _, rest = path.read_text(encoding="utf-8").strip().partition("\n")
    finally:
        path.unlink()
    if not first.strip() or not rest.strip():
        raise fail("the edited draft needs a question line and an answer")
    return first.strip(), rest.strip()


def kb_approve(draft_id: RowId,
               edit: Annotated[bool, typer.Option("--edit", help="edit question and answer in $EDITOR")] = False,
               question: Annotated[str | None, typer.Option(help="replace the question")] = None,
               answer: Annotated[str | None, typer.Option(help="replace the answer")] = None,
               source: Annotated[str | None, typer.Option(help="http(s) source of the answer")] = None) -> None:
    """Approve a draft: it becomes a FAQ entry (version 1) that the bot answers with."""

    async def go(app_: HelpDesk, conn: AsyncConnection) -> KBEntry:
        q, a = question, answer
        if edit:
            pending = {d.id: d for d in await kb_drafts.drafts(conn)}
            if draft_id not in pending:
                raise kb_drafts.DraftError(f"no pending draft #{draft_id}")
            q, a = _edit(q or pending[draft_id].question, a or pending[draft_id].answer)
        return await kb_drafts.approve(conn, app_.config, draft_id, None, app_.clock.now(),
                                       question=q, answer=a, source=source)

    try:
        entry = run(_connected(go))
    except kb_drafts.DraftError as exc:
        raise fail(str(exc)) from None
    console.print(f"draft #{draft_id} approved as FAQ entry {entry.id} ({entry.queue}, {entry.lang}); "
                  "running bots answer with it after a restart (approve in chat to use it at once)", markup=False)


def kb_reject(draft_id: RowId) -> None:
    """Reject a draft."""
    try:
        run(_connected(lambda app_, conn: kb_drafts.reject(conn, draft_id, None, app_.clock.now())))
    except kb_drafts.DraftError as exc:
        raise fail(str(exc)) from None
    console.print(f"draft #{draft_id} rejected", markup=False)


def kb_export(directory: Annotated[Path, typer.Argument(help="folder to write one YAML file per queue to")]) -> None:
    """Write the current FAQ entries to YAML files that `kb import` reads back identically."""
    entries = run(_connected(lambda app_, conn: load_entries(conn)))
    for path in write_kb_dir(entries, directory):
        console.print(f"wrote {path}", markup=False)
    console.print(f"{len(entries)} entries exported", markup=False)


def kb_stale(on: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="as of this day")] = None,
             ) -> None:
    """List entries past their review-by date, with their owners."""
    entries = run(_connected(lambda app_, conn: load_entries(conn)))
    stale = kb_metrics.stale_entries(entries, on.date() if on else date.today())
    table = Table("id", "queue", "lang", "owner", "review by", "days overdue")
    for s in stale:
        table.add_row(s.entry_id, s.queue, s.lang, s.owner or "—", s.review_by.isoformat(), str(s.days_overdue))
    console.print(table)
    console.print(f"{len(stale)} of {len(entries)} entries past review", markup=False)


SinceOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="only decisions since this day")]


def _since(value: datetime | None) -> datetime | None:
    return datetime.combine(value.date(), time(), UTC) if value else None


def kb_stats(since: SinceOption = None,
             as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """Use of each FAQ entry: matched, answered, suggested, clicked, helped, false deflections, ratings, and
    whether practitioners applied it ("did you apply it?": asked, applied or partly)."""

    async def go(app_: HelpDesk, conn: AsyncConnection) -> tuple[list[kb_metrics.EntryStats], dict[str, OutcomeRow]]:
        stats = await kb_metrics.entry_stats(conn, [e.id for e in await load_entries(conn)], _since(since))
        return stats, await applied_by_entry(conn, _since(since))

    rows, applied = run(_connected(go))
    if as_json:
        console.print_json(json.dumps([{**s.__dict__, "mean_rating": s.mean_rating,
                                        "outcomes": applied.get(s.entry_id, OutcomeRow(s.entry_id)).as_dict()}
                                       for s in rows]))
        return
    table = Table("entry", "matched", "answered", "suggested", "clicked", "helped", "false defl.", "tickets",
                  "rating", "follow-ups", "applied")
    for s in rows:
        rating = f"{s.mean_rating:.1f} ({s.rated})" if s.mean_rating is not None else "—"
        outcome = applied.get(s.entry_id, OutcomeRow(s.entry_id))
        table.add_row(s.entry_id, *(str(v) for v in (s.matched, s.answered, s.suggested, s.clicked, s.helped,
                                                     s.false_deflections, s.tickets)), rating,
                      str(outcome.asked), percent_text(outcome.applied_pct))
    console.print(table)


def kb_gaps(since: SinceOption = None,
            as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """Escalated and unanswered questions grouped by similarity: the FAQ entries to write next."""
    clusters = run(_connected(lambda app_, conn: kb_metrics.gaps(conn, _since(since))))
    if as_json:
        console.print_json(json.dumps([{"size": c.size, "keywords": c.keywords, "examples": c.examples}
                                       for c in clusters]))
        return
    for c in clusters:
        console.print(f"{c.size:>4}  [{', '.join(c.keywords)}]", markup=False)
        for example in c.examples:
            console.print(f"        {example}", markup=False)
    console.print(f"{sum(c.size for c in clusters)} questions in {len(clusters)} groups", markup=False)


def register(kb: typer.Typer) -> None:
    """Add these commands to the `helpdesk kb` group."""
    for name, command in (("eval", kb_eval), ("tune", kb_tune), ("drafts", kb_drafts_cmd), ("approve", kb_approve),
                          ("reject", kb_reject), ("export", kb_export), ("stale", kb_stale), ("stats", kb_stats),
                          ("gaps", kb_gaps)):
        kb.command(name)(command)
