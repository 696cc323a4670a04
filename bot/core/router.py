"""Chooses the handler for a message: button, command, conversation state or free text, by role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from bot.core.context import Context
from bot.core.conversation import Waiting

Handler = Callable[[Context], Awaitable[None]]
ActionHandler = Callable[[Context, list[str]], Awaitable[None]]

PRACTITIONER = "practitioner"
EXPERT = "expert"
SECRETARIAT = "secretariat"
EVERYONE = frozenset({PRACTITIONER, EXPERT, SECRETARIAT})
STAFF = frozenset({EXPERT, SECRETARIAT})


@dataclass(frozen=True)
class Command:
    """A slash command and who may use it."""

    name: str
    handler: Handler
    roles: frozenset[str]
    help_key: str | None


@dataclass(frozen=True)
class Action:
    """A button verb and who may press it."""

    verb: str
    handler: ActionHandler
    roles: frozenset[str]


class Router:
    """Handlers register here (each handlers module has `register(router)`)."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.actions: dict[str, Action] = {}
        self.states: dict[str, Handler] = {}
        self.texts: dict[str, Handler] = {}
        self.events: dict[str, Handler] = {}
        self.on_refused: Callable[[Context, str], Awaitable[None]] | None = None
        self.on_unknown_command: Handler | None = None
        self.on_bad_action: Handler | None = None
        self.guards: list[Callable[[Context], Awaitable[bool]]] = []

    def guard(self, fn: Callable[[Context], Awaitable[bool]]) -> Callable[[Context], Awaitable[bool]]:
        """Register a check run before dispatch; returning True means it handled the message."""
        self.guards.append(fn)
        return fn

    async def handle(self, ctx: Context) -> None:
        """Run the guards, then the handler."""
        for check in self.guards:
            if await check(ctx):
                return
        await self.dispatch(ctx)

    def command(self, name: str, roles: Collection[str] = EVERYONE, help_key: str | None = None,
                ) -> Callable[[Handler], Handler]:
        """Register `/name`."""
        def add(fn: Handler) -> Handler:
            self.commands[name] = Command(name, fn, frozenset(roles), help_key)
            return fn
        return add

    def action(self, verb: str, roles: Collection[str] = EVERYONE) -> Callable[[ActionHandler], ActionHandler]:
        """Register a button verb."""
        def add(fn: ActionHandler) -> ActionHandler:
            self.actions[verb] = Action(verb, fn, frozenset(roles))
            return fn
        return add

    def state(self, name: Waiting) -> Callable[[Handler], Handler]:
        """Register the handler of free text while the conversation is in state `name`."""
        def add(fn: Handler) -> Handler:
            self.states[name] = fn
            return fn
        return add

    def event(self, name: str) -> Callable[[Handler], Handler]:
        """Register the handler of a channel event (e.g. "edited", "bot_removed"); events bypass roles."""
        def add(fn: Handler) -> Handler:
            self.events[name] = fn
            return fn
        return add

    def text(self, role: str) -> Callable[[Handler], Handler]:
        """Register the handler of free text for a role when no state applies."""
        def add(fn: Handler) -> Handler:
            self.texts[role] = fn
            return fn
        return add

    def commands_for(self, role: str) -> list[Command]:
        """The commands a role may use, for help texts and command menus."""
        return [c for c in self.commands.values() if role in c.roles]

    async def _refuse(self, ctx: Context, what: str) -> None:
        ctx.audit("refused", allowed=False, what=what, role=ctx.person.role)
        if self.on_refused is not None:
            await self.on_refused(ctx, what)

    async def dispatch(self, ctx: Context) -> None:
        """Run the one handler this message calls for."""
        msg = ctx.msg
        if msg.event is not None:
            event_handler = self.events.get(msg.event)
            if event_handler is not None:
                await event_handler(ctx)
            return
        if msg.action is not None:
            verified = ctx.services.signer.verify(msg.action)
            action = self.actions.get(verified[0]) if verified else None
            if verified is None or action is None:
                ctx.audit("bad_action", allowed=False)
                if self.on_bad_action is not None:
                    await self.on_bad_action(ctx)
                return
            if ctx.person.role not in action.roles:
                await self._refuse(ctx, f"button {action.verb}")
                return
            await action.handler(ctx, verified[1])
            return
        text = msg.text.strip()
        if text.startswith("/") and len(text) > 1 and not text.startswith("//"):
            name = text[1:].split(maxsplit=1)[0].split("@")[0].lower()
            command = self.commands.get(name)
            if command is None:
                if self.on_unknown_command is not None:
                    await self.on_unknown_command(ctx)
                return
            if ctx.person.role not in command.roles:
                await self._refuse(ctx, f"/{name}")
                return
            await command.handler(ctx)
            return
        state_handler = self.states.get(ctx.conversation.state.split(":")[0])
        if state_handler is not None:
            await state_handler(ctx)
            return
        handler = self.texts.get(ctx.person.role) or self.texts.get(PRACTITIONER)
        if handler is not None:
            await handler(ctx)


def command_args(ctx: Context) -> str:
    """The text after the command name."""
    return arguments(ctx.msg.text)


def arguments(text: str) -> str:
    """The text after a command's name (`/claim 12 …` -> `12 …`)."""
    parts = text.strip().split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""
