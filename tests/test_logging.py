"""Logs never show a secret, and the JSON format carries ids, one object per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.logging_setup import configure_logging
from bot.settings import Settings

TOKEN = "123456:AAH-very-secret-telegram-token"
SIGNING = "slack-signing-secret-0123456789"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield io.StringIO()
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def settings(fmt: str) -> Settings:
    return Settings(telegram_bot_token=SecretStr(TOKEN), slack_signing_secret=SecretStr(SIGNING),
                    log_format=fmt, log_level="DEBUG", _env_file=None)  # type: ignore[call-arg]


def emit(stream: io.StringIO, fmt: str) -> str:
    configure_logging(settings(fmt))
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    log = logging.getLogger("telegram.request")
    log.debug("POST https://api.telegram.org/bot%s/sendMessage", TOKEN)
    try:
        raise RuntimeError(f"bad signature with {SIGNING}")
    except RuntimeError:
        log.exception("slack request failed", extra={"ticket_id": 7, "channel": "slack"})
    return stream.getvalue()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_reach_the_log(captured: io.StringIO, fmt: str) -> None:
    out = emit(captured, fmt)
    assert TOKEN not in out and SIGNING not in out
    assert "bot***/sendMessage" in out
    assert repr(settings(fmt)).count(TOKEN) == 0  # settings never print their secrets either


def test_json_lines_carry_ids(captured: io.StringIO) -> None:
    lines = [json.loads(line) for line in emit(captured, "json").splitlines()]
    failure = lines[-1]
    assert failure["level"] == "ERROR" and failure["ticket_id"] == 7 and failure["channel"] == "slack"
    assert "RuntimeError" in failure["exception"]
