"""Process settings from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the process needs from its environment. Secrets never print."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./helpdesk.db"
    database_schema: str | None = Field(default=None, description="PostgreSQL schema (search_path)")
    helpdesk_config: Path | None = Field(default=None, description="Service config TOML file")
    helpdesk_secret_key: SecretStr | None = None
    kb_dir: Path | None = None

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_max_per_second: float = Field(default=30.0, gt=0, description="global send budget")
    telegram_shared_pacing: bool = Field(default=False, description="per-chat pacing shared by replicas (PostgreSQL)")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    helpdesk_http_host: str = "127.0.0.1"
    helpdesk_http_port: int = 8080
    helpdesk_public_url: str | None = Field(default=None, description="base URL of links the bot sends")
    helpdesk_files_dir: Path = Field(default=Path("files"), description="where web chat uploads are stored")

    @property
    def public_url(self) -> str:
        """Where browsers reach the HTTP server (login links, the chat URL)."""
        return (self.helpdesk_public_url or f"http://{self.helpdesk_http_host}:{self.helpdesk_http_port}").rstrip("/")

    # Weight of the optional semantic re-ranker (needs `pip install .[semantic]`); 0 = off.
    helpdesk_semantic_weight: float = Field(default=0.0, ge=0.0, le=1.0)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # One batching worker measured fastest on both databases (bigger batches, fewer commits);
    # more workers only help when the database, not this process, is the bottleneck.
    pipeline_workers: int = Field(default=1, ge=1, le=32)
    # How long a send may take before another round (or process) assumes it crashed and sends again.
    outbox_lease_seconds: float = Field(default=60, gt=0)

    # Web security (docs/web.md, "Security model"): the proxies whose X-Forwarded-For is believed (comma-separated
    # addresses or networks; none by default), and what one client address may start per hour in the web chat.
    helpdesk_trusted_proxies: str = ""
    helpdesk_web_new_chats_per_hour: int = Field(default=30, ge=1)
    helpdesk_web_tickets_per_hour: int = Field(default=10, ge=1)

    @property
    def trusted_proxies(self) -> list[str]:
        """HELPDESK_TRUSTED_PROXIES as a list (empty: X-Forwarded-For is never believed)."""
        return [p.strip() for p in self.helpdesk_trusted_proxies.split(",") if p.strip()]

    @property
    def telegram_enabled(self) -> bool:
        """Telegram runs only when its token is set."""
        return self.telegram_bot_token is not None

    @property
    def slack_enabled(self) -> bool:
        """Slack runs only when a bot token and a way to receive events are set."""
        return self.slack_bot_token is not None and (
            self.slack_app_token is not None or self.slack_signing_secret is not None
        )

    def secrets(self) -> list[str]:
        """The configured secret values, for log scrubbing and tests."""
        values = [
            self.helpdesk_secret_key,
            self.telegram_bot_token,
            self.telegram_webhook_secret,
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
        ]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
