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
    Buttons belong to the person whose chat they are in: those sent to another person's private chat (the
    rating stars of a practitioner, while an expert is at the keyboard) are kept for them and numbered when
    the keyboard switches to them (`show_waiting`).
    """

    name = "console"

    def __init__(self, console: Console | None = None, on_output: Callable[[], None] | None = None) -> None:
        self._console = console or Console(highlight=False)
        self._ids = itertools.count(1)
        self.buttons: list[Button] = []
        self.viewer = ""  # the console user at the keyboard
        self._waiting: dict[str, list[OutgoingMessage]] = {}
        self._on_output = on_output

    def new_burst(self) -> None:
        """The person acted: the replies that follow are numbered from 1 again."""
        self.buttons = []

    async def send(self, message: OutgoingMessage) -> str | None:
        """Print one message (an edit is shown as an update of an earlier post)."""
        kind, _, owner = message.chat_id.partition(":")
        if message.buttons and kind == "dm" and owner != self.viewer:
            self._waiting.setdefault(owner, []).append(message)
        self._print(message, numbered=not (kind == "dm" and owner != self.viewer))
        if self._on_output is not None:
            self._on_output()
        return message.edit_external_id or f"console-{next(self._ids)}"

    def show_waiting(self, user: str) -> int:
        """Show again, with numbers, the posts with buttons that came for `user` while someone else was at
        the keyboard; how many there were."""
        waiting = self._waiting.pop(user, [])
        for message in waiting:
            self._print(message, numbered=True)
        return len(waiting)

    def _print(self, message: OutgoingMessage, numbered: bool) -> None:
        where = terminal_safe(chat_label(message.chat_id))
        prefix = "updated " if message.kind == "edit" else ""
        self._console.print(f"\n{prefix}{where}", style="bold cyan", markup=False)
        self._console.print(terminal_safe(message.text), markup=False)
        if not message.buttons:
            return
        if not numbered:
            labels = " · ".join(button.label for button in message.buttons)
            owner = message.chat_id.partition(":")[2]
            self._console.print(terminal_safe(f"  ({labels}: for {owner}, after /as practitioner:{owner})"),
                                markup=False)
            return
        first = len(self.buttons) + 1
        self.buttons.extend(message.buttons)
        for n, button in enumerate(message.buttons, first):
            self._console.print(terminal_safe(f"  [{n}] {button.label}"), markup=False)


def chat_label(chat_id: str) -> str:
    """'queue:ENERGY' -> 'ENERGY queue'; 'dm:alice' -> 'to alice'."""
    kind, _, name = chat_id.partition(":")
    if kind == "queue":
        return f"── {name} queue ──"
    if kind == "dm":
        return f"── to {name} ──"
    return f"── {kind} ──"
