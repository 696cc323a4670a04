"""Texts the bot sends, in English, Spanish and French (TOML catalogs in bot/locales/)."""

from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path

from babel import Locale
from babel.numbers import format_decimal

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("en", "es", "fr")
FALLBACK = "en"
IDENTIFIERS = frozenset({"id", "ticket", "draft", "code", "entry", "year"})  # numbers that are names, not amounts


@cache
def catalog(lang: str) -> dict[str, str]:
    """All texts of one language, flattened to dotted keys."""
    with (LOCALES_DIR / f"{lang}.toml").open("rb") as handle:
        data = tomllib.load(handle)
    flat: dict[str, str] = {}

    def walk(prefix: str, node: dict[str, object]) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(f"{name}.", value)
            else:
                flat[name] = str(value)

    walk("", data)
    return flat


def placeholders(text: str) -> set[str]:
    """The `{name}` fields a text expects."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def normalise_language(lang: str | None) -> str:
    """Map 'es-MX', 'FR', None … onto a supported language."""
    code = (lang or "").split("-")[0].split("_")[0].lower()
    return code if code in LANGUAGES else FALLBACK


def language_name(code: str, lang: str) -> str:
    """The name of language `code` in language `lang` ("en" in "es": "inglés"), from Babel's CLDR data."""
    return str(_locale(normalise_language(lang)).languages.get(code, code))


def load_catalogs() -> None:
    """Read every language's texts now (at start), not when the first message needs them."""
    for lang in LANGUAGES:
        catalog(lang)


def text_keys(lang: str) -> set[str]:
    """The keys `t` accepts in `lang`: each text's, a table of plural forms by the table's own key."""
    texts = catalog(lang)
    tables = {key.removesuffix(".by") for key in texts if key.endswith(".by")}
    return tables | {key for key in texts if key.rpartition(".")[0] not in tables}


def text_for(key: str, lang: str | None = None, /, **values: object) -> str:
    """The unfilled text for `key` in `lang` (English when missing).

    A key written as a table of CLDR plural forms with the name of the value that counts
    (`{ one = "{n} day", other = "{n} days", by = "n" }`) gives the form Babel's plural rules pick for that
    count in `lang` ("other" when the language's table lacks the category, e.g. French "many").
    """
    code = normalise_language(lang)
    texts = catalog(code)
    if key not in texts and f"{key}.by" in texts:
        count = values.get(texts[f"{key}.by"])
        form = _locale(code).plural_form(abs(count)) if isinstance(count, int | float) else "other"
        return texts.get(f"{key}.{form}") or texts[f"{key}.other"]
    text = texts.get(key) or catalog(FALLBACK).get(key)
    if text is None:
        raise KeyError(f"no text for {key!r}")
    return text


def localised(values: dict[str, object], lang: str | None) -> dict[str, object]:
    """`values` with their quantities written the language's way by Babel (5,000 · 5000 · 5 000);
    identifiers (ticket, draft and person numbers) are left as they are."""
    code = normalise_language(lang)
    return {name: format_decimal(value, locale=code)
            if isinstance(value, int | float) and not isinstance(value, bool) and name not in IDENTIFIERS
            else value for name, value in values.items()}


def t(key: str, lang: str | None = None, /, **values: object) -> str:
    """The text for `key` in `lang` (English when missing), with `values` filled in (see `text_for`)."""
    text = text_for(key, lang, **values)
    return text.format(**localised(values, lang)) if values else text


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)
