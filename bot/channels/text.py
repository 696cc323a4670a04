"""Cutting long texts for chat platforms: at paragraph, line, sentence or word boundaries."""

from __future__ import annotations

import re
from collections.abc import Callable

_SENTENCE_END = re.compile(r"[.!?…。](?=\s)")
_BREAKS: tuple[str | re.Pattern[str], ...] = ("\n\n", "\n", _SENTENCE_END, " ")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in."""
    return len(text.encode("utf-16-le")) // 2


def _longest_prefix(text: str, limit: int, size: Callable[[str], int]) -> int:
    """The largest n with size(text[:n]) <= limit (binary search; size grows with n)."""
    low, high = 0, min(len(text), limit)
    while low < high:
        middle = (low + high + 1) // 2
        if size(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return max(low, 1)


def _cut(window: str) -> int:
    """Where to end a part inside `window`: after the last good break in its second half, else at its end."""
    for brk in _BREAKS:
        if isinstance(brk, str):
            at = window.rfind(brk)
            end = at + len(brk)
        else:
            found = list(brk.finditer(window))
            at = found[-1].start() if found else -1
            end = at + 1
        if at >= len(window) // 2:
            return end
    return len(window)


def split_text(text: str, limit: int, size: Callable[[str], int] = len) -> list[str]:
    """Split `text` into parts of at most `limit` (measured by `size`), never inside a word if avoidable."""
    parts: list[str] = []
    rest = text
    while size(rest) > limit:
        window = rest[:_longest_prefix(rest, limit, size)]
        end = _cut(window)
        part = rest[:end].rstrip()
        if part:
            parts.append(part)
        rest = rest[end:].lstrip()
    if rest.strip() or not parts:
        parts.append(rest)
    return parts


def shorten(text: str, limit: int, size: Callable[[str], int] = len) -> str:
    """The text cut to `limit` with an ellipsis (for edits and toasts, which cannot be split)."""
    if size(text) <= limit:
        return text
    return text[:_longest_prefix(text, limit - 1, size)].rstrip() + "…"
