"""Every text the bot sends exists in English, Spanish and French with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from bot.i18n import LANGUAGES, catalog, normalise_language, placeholders, t

ROOT = Path(__file__).resolve().parents[1]


def test_every_key_exists_in_every_language_with_the_same_placeholders() -> None:
    english = catalog("en")
    for lang in LANGUAGES:
        other = catalog(lang)
        missing, extra = set(english) - set(other), set(other) - set(english)
        assert not missing and not extra, f"{lang}: missing {missing}, extra {extra}"
        for key, text in english.items():
            assert placeholders(other[key]) == placeholders(text), f"{lang}:{key}"


def test_every_key_used_in_code_exists() -> None:
    used: set[str] = set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/*.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text()))
    missing = {k for k in used if k not in catalog("en")}
    assert not missing, missing


def test_language_codes_are_normalised() -> None:
    assert normalise_language("es-MX") == "es"
    assert normalise_language("FR") == "fr"
    assert normalise_language("de") == "en"
    assert normalise_language(None) == "en"
    assert t("promise.business.d", "en", n=2) == "2 business day(s)"
