"""The chat channels the settings ask for: Telegram when its token is set, Slack when its tokens are."""

from __future__ import annotations

from bot.config import ConfigError
from bot.core.files import FileStore
from bot.core.outbox import ChannelSender
from bot.settings import Settings


def build_channels(settings: Settings) -> dict[str, ChannelSender]:
    """Adapters for the configured platforms (constructed only: nothing connects before `start`).

    The web chat is always on: the HTTP server carries it.
    """
    from bot.channels.web import WebChannel

    channels: dict[str, ChannelSender] = {"web": WebChannel()}
    if settings.telegram_bot_token is not None:
        from bot.channels.telegram import TelegramChannel

        secret = settings.telegram_webhook_secret
        if settings.telegram_webhook_url and secret is None:
            raise ConfigError("environment", ["TELEGRAM_WEBHOOK_SECRET: required when TELEGRAM_WEBHOOK_URL is set"])
        channels["telegram"] = TelegramChannel(
            settings.telegram_bot_token.get_secret_value(), settings.telegram_api_url,
            webhook_url=settings.telegram_webhook_url, webhook_secret=secret.get_secret_value() if secret else None,
            max_per_second=settings.telegram_max_per_second, files=FileStore(settings.helpdesk_files_dir),
            shared_pacing=settings.telegram_shared_pacing)
    if settings.slack_bot_token is not None:
        from bot.channels.slack import SlackChannel

        if not settings.slack_enabled:
            raise ConfigError("environment", ["SLACK_BOT_TOKEN is set: also set SLACK_APP_TOKEN (Socket Mode) "
                                              "or SLACK_SIGNING_SECRET (HTTP events)"])
        app_token, signing = settings.slack_app_token, settings.slack_signing_secret
        channels["slack"] = SlackChannel(
            settings.slack_bot_token.get_secret_value(), settings.slack_api_url,
            signing_secret=signing.get_secret_value() if signing else None,
            app_token=app_token.get_secret_value() if app_token else None,
            files=FileStore(settings.helpdesk_files_dir))
    return channels
