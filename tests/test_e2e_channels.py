"""End to end: `helpdesk run` as a subprocess against the fake Telegram and Slack servers.

One ticket crosses platforms both ways: a Telegram practitioner answered by a Slack expert (long
polling, Socket Mode), and a Slack practitioner answered from a Telegram expert group (webhook,
signed HTTP events), with the bad input each endpoint must refuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli.main import app as cli
from tests.channels_support import ENERGY_QUESTION, KB_DIR, write_config
from tests.fakes.desk_process import HELPDESK, free_port, wait_ready
from tests.fakes.slack import DEFAULT_SIGNING_SECRET, FakeSlack
from tests.fakes.telegram import FakeTelegram

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("no_proxy")]
GROUP, SECRETARIAT, ALICE, OMAR = -100500, -100900, 111, 222
PRACTITIONER, AMINA = "U0PRAC", "U0AMINA"


def helpdesk(env: dict[str, str], *args: str) -> str:
    """Run an administration command in-process (the same CLI as the shell's `helpdesk`)."""
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, f"helpdesk {' '.join(args)}: {result.output}"
    return result.output


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database after `helpdesk db upgrade` and `helpdesk kb import`, copied by each test."""
    path = tmp_path_factory.mktemp("template") / "helpdesk.db"
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{path}", "LOG_LEVEL": "WARNING"}
    helpdesk(env, "db", "upgrade")
    helpdesk(env, "kb", "import", str(KB_DIR))
    return path


def prepare(tmp_path: Path, migrated_db: Path, spaces: list[tuple[str, str]], secretariat: list[tuple[str, str]],
            expert: tuple[str, str, str]) -> dict[str, str]:
    """A fresh copy of the database, a config with the chat spaces, one expert added with `users add`."""
    db = tmp_path / "helpdesk.db"
    shutil.copy(migrated_db, db)
    config = write_config(tmp_path / "helpdesk.toml", energy_spaces=spaces, secretariat_spaces=secretariat,
                          energy_experts=[expert[0]])
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{db}", "HELPDESK_CONFIG": str(config), "LOG_LEVEL": "INFO"}
    handle, channel, user = expert
    helpdesk(env, "users", "add", handle, "--role", "expert", "--channel", channel, "--external-id", user,
             "--chat-id", user)
    return env


@pytest.fixture
def tg_to_slack(tmp_path: Path, migrated_db: Path) -> dict[str, str]:
    """ENERGY's tickets in a Slack channel; Amina, its expert, on Slack."""
    return prepare(tmp_path, migrated_db, [("slack", "C0ENERGY")], [("slack", "C0SECRET")], ("amina", "slack", AMINA))


@pytest.fixture
def slack_to_tg(tmp_path: Path, migrated_db: Path) -> dict[str, str]:
    """ENERGY's tickets in a Telegram group; Omar, its expert, on Telegram."""
    return prepare(tmp_path, migrated_db, [("telegram", str(GROUP))], [("telegram", str(SECRETARIAT))],
                   ("omar", "telegram", str(OMAR)))


@contextlib.asynccontextmanager
async def running(env: dict[str, str], tmp_path: Path, port: int | None = None) -> AsyncIterator[int]:
    """`helpdesk run` in a subprocess until ready; SIGTERM afterwards must stop it cleanly."""
    port = port or free_port()
    log_path = tmp_path / "run.log"
    full_env = {**os.environ, **env, "HELPDESK_HTTP_PORT": str(port), "PTB_TIMEDELTA": "1"}
    with log_path.open("w") as log:
        proc = await asyncio.create_subprocess_exec(str(HELPDESK), "run", env=full_env, stdout=log, stderr=log,
                                                    cwd=tmp_path)
    try:
        await wait_ready(proc, port, log_path)
        yield port
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 15)
        output = log_path.read_text()
        assert proc.returncode == 0, output
        assert "stopped" in output, output
        for name in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "TELEGRAM_WEBHOOK_SECRET"):
            assert env.get(name, "\0") not in output, f"{name} leaked into the log"


def slack_text(message: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in message.get("blocks", []) if b["type"] == "section")


def tg_text(tg: FakeTelegram, chat: int) -> list[str]:
    return [m.get("text", "") for m in tg.sent(chat)]


def callback(message: dict[str, Any], label: str) -> str:
    return next(str(b["callback_data"]) for row in message["reply_markup"]["inline_keyboard"] for b in row
                if b["text"] == label)


async def test_telegram_practitioner_answered_by_a_slack_expert(tmp_path: Path, tg_to_slack: dict[str, str]) -> None:
    env = dict(tg_to_slack)
    async with FakeTelegram() as tg, FakeSlack() as slack:
        tg.add_chat(ALICE)
        slack.add_user(AMINA, name="amina", real_name="Amina K.")
        slack.add_channel("C0ENERGY", "energy-experts")
        slack.add_channel("C0SECRET", "secretariat")
        env |= {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.api_url, "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_APP_TOKEN": slack.app_token, "SLACK_API_URL": slack.api_url}
        async with running(env, tmp_path):
            await slack.wait_connected(timeout=10)
            tg.user_sends(ALICE, ENERGY_QUESTION, user={"id": ALICE, "first_name": "Alice", "last_name": "Mwangi",
                                                        "language_code": "en"})
            await tg.wait_for(lambda: any("ticket #1" in t for t in tg_text(tg, ALICE)), 10)
            await slack.wait_for(lambda: any("Ticket #1" in slack_text(m) for m in slack.posted("C0ENERGY")))
            card = slack.posted("C0ENERGY")[0]
            assert "Alice Mwangi" in slack_text(card)

            await (await slack.user_clicks("hd_0_claim", user=AMINA, channel="C0ENERGY")).wait_acked()
            await tg.wait_for(lambda: any("Amina" in t and "looking at your question" in t
                                          for t in tg_text(tg, ALICE)), 10)
            answer = "Compensate curtailment above 5% of annual output & publish the <merit order>."
            await slack.user_says(answer, user=AMINA, channel="C0ENERGY", thread_ts=card["ts"])
            await tg.wait_for(lambda: any(t.endswith(answer) for t in tg_text(tg, ALICE)), 10)
            assert next(t for t in tg_text(tg, ALICE) if t.endswith(answer)).startswith("Ticket #1 — Amina")


async def test_slack_practitioner_answered_from_a_telegram_expert_group(tmp_path: Path,
                                                                      slack_to_tg: dict[str, str]) -> None:
    env = dict(slack_to_tg)
    async with FakeTelegram() as tg, FakeSlack() as slack:
        for chat, kind in ((OMAR, "private"), (GROUP, "supergroup"), (SECRETARIAT, "group")):
            tg.add_chat(chat, kind, title=None if kind == "private" else "Experts")
        slack.add_user(PRACTITIONER, name="rosa", real_name="Rosa Díaz", locale="es-ES")
        port_env = {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.api_url,
                    "TELEGRAM_WEBHOOK_SECRET": "s3cret-token", "SLACK_BOT_TOKEN": slack.bot_token,
                    "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET, "SLACK_API_URL": slack.api_url}
        port = free_port()
        env |= port_env | {"TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook"}
        async with running(env, tmp_path, port):
            await tg.wait_for(lambda: tg.webhook_url is not None, 10)
            slack.configure_http(f"http://127.0.0.1:{port}/slack/events", DEFAULT_SIGNING_SECRET)
            question = "¿Qué reglas de compensación por recorte eólico convienen a una tarifa de minirred?"
            asked = await slack.user_says(question, user=PRACTITIONER)
            assert asked.attempts == [200]
            dm = slack.dm_channel(PRACTITIONER)
            await slack.wait_for(lambda: any("ticket #1" in slack_text(m).lower() for m in slack.posted(dm)), 10)
            await tg.wait_for(lambda: any("Ticket #1" in t for t in tg_text(tg, GROUP)), 10)
            card = tg.sent(GROUP)[0]
            assert "Rosa Díaz" in card["text"]

            # bad input is refused before anything runs
            body = json.dumps(asked.payload).encode()
            assert await slack.post_signed(body, signing_secret="forged") == 401
            assert await slack.post_signed(body, timestamp=int(time.time()) - 3600) == 401
            retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
            assert await slack.post_signed(body, extra_headers=retry) == 200
            async with httpx.AsyncClient() as client:
                forged = await client.post(f"http://127.0.0.1:{port}/telegram/webhook", json={"update_id": 1},
                                           headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
            assert forged.status_code == 403

            tg.user_presses(GROUP, card["message_id"], callback(card, "Claim"), user=OMAR)
            await tg.deliver_via_webhook()
            await tg.wait_for(lambda: any("Ticket #1 is yours" in t for t in tg_text(tg, OMAR)), 10)
            answer = "Use a <b>premium</b> & cap it at 5% — see art. 4."
            tg.user_sends(GROUP, answer, user=OMAR, chat_type="supergroup", reply_to=card["message_id"])
            assert [d.attempts for d in await tg.deliver_via_webhook()] == [[200]]
            await slack.wait_for(lambda: any(slack_text(m).endswith(answer) for m in slack.posted(dm)), 10)
            tickets = [m for m in slack.posted(dm) if "ticket #1" in slack_text(m).lower()
                       and "ENERGY" in slack_text(m)]
            assert len(tickets) == 1  # the retried event had no second effect
            assert len([m for m in tg.sent(GROUP) if "Ticket #1" in m.get("text", "")]) == 1
