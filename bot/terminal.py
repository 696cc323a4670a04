"""Text from outside shown in a terminal: control characters (but newline and tab) made visible, never obeyed.

A practitioner's message, a file name or a log line could otherwise carry escape sequences (ESC]0;… retitles the
terminal, ESC[2J clears it) that the operator's terminal would run.
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and newline, DEL, C1


def terminal_safe(text: str) -> str:
    """`text` with each control character but newline and tab written out, e.g. ESC as '\\x1b'."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class SafeConsole(Console):
    """A rich Console whose strings (printed or in tables) are made terminal-safe before rich styles them."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        """Rich's own rendering of the string, its control characters written out first."""
        return super().render_str(terminal_safe(text), **kwargs)
