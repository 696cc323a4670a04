"""Numbers and dates from a URL or form, validated into range: a bad value is a clear 400 or 404, never a 500."""

from __future__ import annotations

import re
from datetime import date

from bot.ranges import FIRST_DAY, LAST_DAY, MAX_ID

MAX_PAGE = 100_000
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() also takes '²', which int() refuses


class Invalid(Exception):
    """A parameter out of range: the catalog key of the explanation and its values."""

    def __init__(self, key: str, values: dict[str, object]) -> None:
        super().__init__(key)
        self.key, self.values = key, values


def whole_number(name: str, value: str, low: int, high: int) -> int:
    """`value` as a whole number from `low` to `high`, else Invalid."""
    number = int(value) if _DIGITS.fullmatch(value) else None
    if number is None or not low <= number <= high:
        raise Invalid("staff.invalid.number", {"name": name, "low": low, "high": high})
    return number


def in_id_range(number: int) -> bool:
    """Whether a path's number can be a row id at all (larger ones are no ticket: 404)."""
    return 1 <= number <= MAX_ID


def day(name: str, value: str) -> date | None:
    """A YYYY-MM-DD day from FIRST_DAY to LAST_DAY ('' for none), else Invalid."""
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) else None
    except ValueError:
        parsed = None
    if parsed is None or not FIRST_DAY <= parsed <= LAST_DAY:
        raise Invalid("staff.invalid.date", {"name": name, "low": FIRST_DAY.isoformat(), "high": LAST_DAY.isoformat()})
    return parsed
