"""Texts the bot sends, in English, Spanish and French (TOML catalogs in bot/locales/)."""

from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path

from babel import Locale

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("en", "es", "fr")
FALLBACK = "en"


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
    return str(Locale.parse(normalise_language(lang)).languages.get(code, code))


def load_catalogs() -> None:
    """Read every language's texts now (at start), not when the first message needs them."""
    for lang in LANGUAGES:
        catalog(lang)


def t(key: str, lang: str | None = None, /, **values: object) -> str:
    """The text for `key` in `lang` (English when missing), with `values` filled in."""
    text = catalog(normalise_language(lang)).get(key) or catalog(FALLBACK).get(key)
    if text is None:
        raise KeyError(f"no text for {key!r}")
    return text.format(**values) if values else text
