"""The web pages' own words in English, Spanish and French, from the bot's catalogs (bot/locales).

The chat's words are section [webchat]; the staff pages' (sign-in, inbox, ticket, dashboard) section [staff],
in the language of the signed-in person unless the page's language switch says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.requests import Request

from bot.i18n import LANGUAGES, catalog, localised, text_for

STAFF_LANG = "hd_staff_lang"  # cookie: the language picked with the staff pages' switch


def chat_texts(lang: str) -> dict[str, str]:
    """The chat page's own words, from the same catalogs as the bot's (bot/locales, section [webchat])."""
    return {key.removeprefix("webchat."): text for key, text in catalog(lang).items() if key.startswith("webchat.")}


LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français"}


def _supported(value: str | None) -> str | None:
    """'es-MX' → 'es'; None for a language the pages do not have."""
    code = (value or "").split(";")[0].strip().split("-")[0].split("_")[0].lower()
    return code if code in LANGUAGES else None


def accepted_language(request: Request) -> str | None:
    """The browser's first Accept-Language the pages have (None: none)."""
    return next(filter(None, map(_supported, request.headers.get("accept-language", "").split(","))), None)


def chosen_language(request: Request) -> str | None:
    """The language the browser asks for: `?lang=`, else the `hd_lang` cookie, else Accept-Language (None: unsaid)."""
    for value in (request.query_params.get("lang"), request.cookies.get("hd_lang")):
        if value in LANGUAGES:
            return value
    return accepted_language(request)


def staff_language(request: Request, person_language: str | None) -> str:
    """A staff page's language: the switch (`?lang=`, then its cookie), else the signed-in person's language,
    else Accept-Language, else English."""
    for value in (request.query_params.get("lang"), request.cookies.get(STAFF_LANG)):
        if value in LANGUAGES:
            return value
    return _supported(person_language) or accepted_language(request) or "en"


def language_links(request: Request) -> list[tuple[str, str, str]]:
    """The language switch: (code, name, this page in that language), other query parameters kept."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return [(code, name, f"{request.url.path}?{urlencode([*kept, ('lang', code)])}")
            for code, name in LANGUAGE_NAMES.items()]


def translator(lang: str) -> Callable[..., str]:
    """Templates' `_(key, **values)`: a catalog text in `lang`. With values it is escaped Markup whose values
    are escaped too unless they are Markup themselves (see `code`)."""

    def translate(key: str, /, **values: object) -> str:
        text = text_for(key, lang, **values)
        return Markup(escape(text)).format(**localised(values, lang)) if values else text

    return translate


def code(text: str) -> Markup:
    """A command in a translated sentence, e.g. _("staff.login.how", dashboard=code("/dashboard"))."""
    return Markup("<code>{}</code>").format(text)


def chat_language(request: Request) -> str:
    """The page language (English when the browser does not say)."""
    return chosen_language(request) or "en"
