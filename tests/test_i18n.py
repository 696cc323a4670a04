"""Every text the bot sends exists in English, Spanish and French with the same placeholders."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.cli.main import ROLES
from bot.config import PRIORITIES
from bot.core.needs import DIMENSIONS
from bot.core.reports import AGES
from bot.i18n import LANGUAGES, catalog, normalise_language, placeholders, t, text_keys
from bot.web.app import STATES

ROOT = Path(__file__).resolve().parents[1]


def test_every_key_exists_in_every_language_with_the_same_placeholders() -> None:
    english = catalog("en")
    for lang in LANGUAGES:
        other = catalog(lang)
        missing, extra = set(english) - set(other), set(other) - set(english)
        assert not missing and not extra, f"{lang}: missing {missing}, extra {extra}"
        for key, text in english.items():
            assert placeholders(other[key]) == placeholders(text), f"{lang}:{key}"


# Calls whose argument at this position is a catalog key.
KEY_ARGUMENT = {"t": 0, "notify_person": 2, "refuse": 2, "Invalid": 0}  # Invalid: a web page's 400 (bot/web/params.py)


def keys_used(path: Path) -> set[str]:
    """Catalog keys passed as literals to t(), ctx.t(), notify_person() and refuse()."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        position = KEY_ARGUMENT.get(name)
        if position is not None and len(node.args) > position:
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
    return found


def test_every_key_used_in_code_exists() -> None:
    used: set[str] = set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/*.py")]:
        used |= keys_used(path)
    assert len(used) > 50
    missing = used - text_keys("en")
    assert not missing, missing


TEMPLATE_KEY = re.compile(r"""\b_\(\s*(["'])([\w.]+)\1\s*(~?)""")  # _("staff.x") or _("staff.state." ~ value)


def keys_used_in_templates() -> tuple[set[str], set[str]]:
    """Catalog keys the web templates pass to `_()`: whole keys, and prefixes completed with a value (`~`)."""
    keys: set[str] = set()
    prefixes: set[str] = set()
    for path in (ROOT / "bot" / "web" / "templates").glob("*.html"):
        for _, key, joined in TEMPLATE_KEY.findall(path.read_text()):
            (prefixes if joined else keys).add(key)
    return keys, prefixes


def test_every_key_used_in_templates_exists_and_staff_keys_are_used() -> None:
    keys, prefixes = keys_used_in_templates()
    assert len(keys) > 100 and prefixes == {"staff.state.", "staff.priority.", "staff.role.", "staff.event.",
                                            "staff.error.", "staff.age.", "staff.needs.by."}
    english = text_keys("en")
    assert not {k for k in keys if k not in english}
    completed = {f"staff.state.{s}" for s in STATES} | {f"staff.priority.{p}" for p in PRIORITIES} | {
        f"staff.role.{r}" for r in ROLES} | {"staff.event.breach", "staff.event.warning"} | {
        f"staff.error.{m}" for m in ("signin", "forbidden", "csrf", "badlink", "notfound", "other")} | {
        f"staff.age.{label}" for _, label in AGES} | {f"staff.needs.by.{d}" for d in DIMENSIONS}
    assert not {k for k in completed if k not in english}
    in_code: set[str] = set()
    for path in ROOT.glob("bot/web/*.py"):
        in_code |= keys_used(path)
    unused = {k for k in english if k.startswith("staff.")} - keys - completed - in_code
    assert not unused, f"[staff] texts no page uses: {sorted(unused)}"


def test_language_codes_are_normalised() -> None:
    assert normalise_language("es-MX") == "es"
    assert normalise_language("FR") == "fr"
    assert normalise_language("de") == "en"
    assert normalise_language(None) == "en"
    assert t("promise.business.d", "en", n=2) == "2 business days"
