"""The local channel: a terminal chat through the same message path, no token needed."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from rich.console import Console

from bot.core.messages import Button, OutgoingMessage
from bot.terminal import terminal_safe


class ConsoleChannel:
    """Prints what the bot sends; numbers the buttons of one burst of replies so they can be picked by number.

    What it prints comes from people on every channel: control characters are written out, not sent to the terminal.
    """

    name = "console"

    def __init__(self, console: Console | None = None, on_output: Callable[[], None] | None = None) -> None:
        self._console = console or Console(highlight=False)
        self._ids = itertools.count(1)
        self.buttons: list[Button] = []
        self._on_output = on_output

    def new_burst(self) -> None:
        """The person acted: the replies that follow are numbered from 1 again."""
        self.buttons = []

    async def send(self, message: OutgoingMessage) -> str | None:
        """Print one message (an edit is shown as an update of an earlier post)."""
        where = terminal_safe(chat_label(message.chat_id))
        prefix = "updated " if message.kind == "edit" else ""
        self._console.print(f"\n{prefix}{where}", style="bold cyan", markup=False)
        self._console.print(terminal_safe(message.text), markup=False)
        if message.buttons:
            first = len(self.buttons) + 1
            self.buttons.extend(message.buttons)
            for n, button in enumerate(message.buttons, first):
                self._console.print(terminal_safe(f"  [{n}] {button.label}"), markup=False)
        if self._on_output is not None:
            self._on_output()
        return message.edit_external_id or f"console-{next(self._ids)}"


def chat_label(chat_id: str) -> str:
    """'queue:ENERGY' -> 'ENERGY queue'; 'dm:alice' -> 'to alice'."""
    kind, _, name = chat_id.partition(":")
    if kind == "queue":
        return f"── {name} queue ──"
    if kind == "dm":
        return f"── to {name} ──"
    return f"── {kind} ──"
