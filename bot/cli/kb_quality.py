"""`helpdesk kb …` for knowledge quality: eval, tune, drafts, export, stale, stats, gaps."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.cli.common import console, desk, fail, run, settings
from bot.config import DEFAULT_CONFIG, ConfigError, MatcherThresholds, load_config
from bot.core import kb_drafts, kb_metrics
from bot.core.knowledge import load_entries
from kb.evaluation import EvalDataError, EvalSet, evaluate, load_eval_dir, tune
from kb.export import write_kb_dir
from kb.files import KBFileError, load_kb_dir
from kb.matcher import Matcher

MATCHER_KEYS = ("answer", "margin", "suggest")
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
            as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """Evaluate the matcher on a labelled query set at the configured thresholds."""
    data = _eval_set(directory, kb_dir)
    limits = _thresholds(config)
    result = evaluate(Matcher(data.entries), data.queries, limits.answer, limits.margin)
    if as_json:
        console.print_json(json.dumps({"set": data.name, **result.to_dict()}))
        return
    console.print(f"{data.name}: {len(data.entries)} entries, {len(data.queries)} queries", markup=False)
    console.print(result.to_text(), markup=False)


def kb_tune(directory: Annotated[Path, typer.Argument(help="folder with faq.jsonl and queries.jsonl")],
            target_precision: Annotated[float, typer.Option(min=0.5, max=1.0)] = 0.95,
            kb_dir: KbOption = None, config: ConfigOption = None,
            write: Annotated[bool, typer.Option("--write", help="store the thresholds in [matcher]")] = False,
            as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """Choose answer/margin/suggest thresholds for a target answer precision (dev split if any)."""
    data = _eval_set(directory, kb_dir)
    chosen = tune(Matcher(data.entries), data, target_precision)
    if as_json:
        console.print_json(json.dumps({"set": data.name, **chosen.to_dict()}))
    else:
        console.print(chosen.to_text(), markup=False)
    if not write:
        return
    if not chosen.reachable:
        raise fail(f"target precision {target_precision} not reachable; config left unchanged", code=1)
    path = _config_path(config)
    values = {"answer": chosen.answer_threshold, "margin": chosen.margin, "suggest": chosen.suggest_threshold}
    try:
        text, changes = set_matcher_values(path.read_text(encoding="utf-8"), values)
    except (OSError, ValueError) as exc:
        raise fail(f"{path}: {exc}") from None
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as exc:
        raise fail(f"{path}: written but invalid: {exc}") from None
    for change in changes or ["no change"]:
        console.print(f"{path}: [matcher] {change}", markup=False)


def set_matcher_values(text: str, values: dict[str, float]) -> tuple[str, list[str]]:
    """``text`` with the ``[matcher]`` keys set to ``values`` (3 decimals), comments kept; and what changed."""
    lines = text.splitlines(keepends=True)
    section = None
    found: set[str] = set()
    changes = []
    for i, line in enumerate(lines):
        head = _SECTION.match(line)
        if head:
            section = head.group(1).strip()
            continue
        key = re.match(r"^(\s*)(\w+)(\s*=\s*)([^#\n]*?)(\s*)(#.*)?(\n?)$", line)
        if section != "matcher" or not key or key.group(2) not in values:
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
        raise ValueError(f"[matcher] has no line for {', '.join(missing)}")
    return "".join(lines), changes
