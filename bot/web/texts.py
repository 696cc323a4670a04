"""The web chat's own words in English, Spanish and French (what the bot says comes from bot/locales)."""

from __future__ import annotations

from starlette.requests import Request

from bot.i18n import LANGUAGES, catalog


def chat_texts(lang: str) -> dict[str, str]:
    """The chat page's own words, from the same catalogs as the bot's (bot/locales, section [webchat])."""
    return {key.removeprefix("webchat."): text for key, text in catalog(lang).items() if key.startswith("webchat.")}


LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français"}


def chosen_language(request: Request) -> str | None:
    """The language the browser asks for: `?lang=`, else the `hd_lang` cookie, else Accept-Language (None: unsaid)."""
    for value in (request.query_params.get("lang"), request.cookies.get("hd_lang")):
        if value in LANGUAGES:
            return value
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().split("-")[0].lower()
        if code in LANGUAGES:
            return code
    return None


def chat_language(request: Request) -> str:
    """The page language (English when the browser does not say)."""
    return chosen_language(request) or "en"
