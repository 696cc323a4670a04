"""Process logging: level and format from the settings, secrets redacted, JSON on request."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.redact import redact_logs
from bot.settings import Settings
from bot.terminal import terminal_safe

NOISY = ("alembic", "bm25s", "httpx", "apscheduler")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the ids handlers put in `extra`."""

    FIELDS = ("ticket_id", "person_id", "channel", "outbox_id")

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data |= {f: getattr(record, f) for f in self.FIELDS if hasattr(record, f)}
        if record.exc_text or record.exc_info:
            data["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The text format, control characters but newline and tab written out: a logged message cannot drive a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_safe(super().format(record))


def configure_logging(settings: Settings) -> None:
    """Set up the root logger once for this process."""
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    redact_logs(settings.secrets())
