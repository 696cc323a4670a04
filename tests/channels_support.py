"""Helpers for channel tests: a config with chat spaces, a started help desk on real adapters."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from bot.app import HelpDesk, build_app
from bot.config import DEFAULT_CONFIG, load_config
from bot.core.knowledge import import_entries
from bot.core.outbox import ChannelSender
from bot.db import migrate
from bot.settings import Settings
from kb.files import load_kb_dir
from tests import desk

ROOT = Path(__file__).resolve().parents[1]
KB_DIR = ROOT / "kb" / "content"
# A question no FAQ entry answers, routed to ENERGY by its keywords.
ENERGY_QUESTION = "Which wind curtailment compensation rules suit a mini-grid tariff in our province?"


def _space_list(spaces: list[tuple[str, str]]) -> str:
    return "[" + ", ".join(f'{{ channel = "{c}", chat = "{chat}" }}' for c, chat in spaces) + "]"


def _toml(value: str | float | bool) -> str:
    """A TOML literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def write_config(path: Path, *, energy_spaces: list[tuple[str, str]], secretariat_spaces: list[tuple[str, str]],
                 energy_experts: list[str], energy_sla: Mapping[str, str | float | bool] | None = None,
                 sweep_seconds: float | None = None) -> Path:
    """The example config with ENERGY's spaces and experts and the secretariat's spaces replaced.

    `energy_sla` becomes ENERGY's own policy for normal tickets; `sweep_seconds` the SLA sweep interval.
    """
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^secretariat_spaces = .*$", f"secretariat_spaces = {_space_list(secretariat_spaces)}",
                  text)
    if sweep_seconds is not None:
        text = re.sub(r"(?m)^sweep_seconds = \S+", f"sweep_seconds = {sweep_seconds}", text)
    blocks = text.split("[[queues]]")
    for i, block in enumerate(blocks):
        if re.search(r'(?m)^id = "ENERGY"', block):
            block = re.sub(r"(?m)^(experts|leads|spaces) = .*\n", "", block)
            experts = ", ".join(f'"{e}"' for e in energy_experts)
            block = re.sub(r'(?m)^(id = "ENERGY"\n)',
                           rf"\1experts = [{experts}]\nspaces = {_space_list(energy_spaces)}\n", block)
            if energy_sla:
                block = block.rstrip("\n") + "\n\n[queues.sla.normal]\n" + "".join(
                    f"{key} = {_toml(value)}\n" for key, value in energy_sla.items()) + "\n"
            blocks[i] = block
    path.write_text("[[queues]]".join(blocks), encoding="utf-8")
    load_config(path)  # fail here, not later, if the edit broke it
    return path


async def add_person(app: HelpDesk, handle: str, role: str, channel: str, user_id: str, chat_id: str) -> None:
    """A staff member on a channel, made a member of the config's queues (what `helpdesk users add` does)."""
    await desk.add_person(app, handle, role, channel, user_id=user_id, chat_id=chat_id)
    await app.sync_config()


@contextlib.asynccontextmanager
async def running_desk(settings: Settings, config_path: Path, channels: Mapping[str, ChannelSender],
                       ) -> AsyncIterator[HelpDesk]:
    """A migrated help desk with the starter FAQ, started (pipeline and drainer) on the given channels."""
    app = build_app(settings, channels=channels, config=load_config(config_path))
    await migrate.upgrade(app.engine)
    async with app.engine.begin() as conn:
        await import_entries(conn, load_kb_dir(KB_DIR).entries, app.clock.now())
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@contextlib.asynccontextmanager
async def started_channel(settings: Settings, config_path: Path, name: str, channel: Any,
                          people: list[tuple[str, str, str]]) -> AsyncIterator[HelpDesk]:
    """A running desk with one real channel adapter started, and `people` as (handle, role, user id)."""
    async with running_desk(settings, config_path, {name: channel}) as app:
        for handle, role, user in people:
            await add_person(app, handle, role, name, user, user)
        await channel.start(app)
        try:
            yield app
        finally:
            await channel.stop()
    await channel.close()
