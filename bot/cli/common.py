"""Helpers shared by the CLI commands: settings, clean errors, async entry points."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from sqlalchemy.exc import DBAPIError, OperationalError

from bot import event_loop
from bot.app import HelpDesk, build_app
from bot.config import ConfigError
from bot.db.engine import DatabaseUnavailable, safe_url
from bot.logging_setup import configure_logging
from bot.ranges import FIRST_DAY, LAST_DAY, MAX_ID
from bot.semantic_model import MissingExtra
from bot.settings import Settings
from bot.terminal import SafeConsole
from kb.files import KBFileError

T = TypeVar("T")
RowId = Annotated[int, typer.Argument(min=1, max=MAX_ID, help="the number (#N)")]
console = SafeConsole()  # everything the CLI prints: text from outside cannot drive the terminal
err = SafeConsole(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a clear error (no traceback) and return the Exit to raise."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, markup=True)  # `[matcher]` is not markup
    return typer.Exit(code)


def report_day(value: datetime | None) -> datetime | None:
    """A report's --since/--until, refused (usage error) outside FIRST_DAY..LAST_DAY."""
    if value is not None and not FIRST_DAY <= value.date() <= LAST_DAY:
        raise typer.BadParameter(f"give a day from {FIRST_DAY} to {LAST_DAY}")
    return value


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning known failures into one clear line and a non-zero exit."""
    try:
        return event_loop.run(coro)
    except (ConfigError, KBFileError, MissingExtra) as exc:
        raise fail(str(exc)) from None
    except DatabaseUnavailable as exc:
        raise fail(str(exc)) from None
    except (OSError, OperationalError, DBAPIError) as exc:
        reason = getattr(exc, "orig", None) or exc
        url = safe_url(Settings().database_url)
        raise fail(f"cannot use the database {url}: {reason}") from None


def moment(text: str, option: str) -> datetime:
    """A time given on the command line: ISO 8601 ('2026-03-04T13:00', '2026-03-04 13:00+03:00', a date);
    UTC unless it names an offset."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"{option}: {text!r} is not a time; write e.g. 2026-03-04T13:00 or 2026-03-04T13:00+03:00") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def settings() -> Settings:
    """Settings from the environment; logging configured from them."""
    s = Settings()
    configure_logging(s)
    return s


def desk() -> HelpDesk:
    """The help desk from the environment's settings (not started)."""
    try:
        return build_app(settings())
    except ConfigError as exc:
        raise fail(str(exc)) from None


async def with_started(app: HelpDesk, body: Callable[[HelpDesk], Awaitable[T]], drain: bool = True) -> T:
    """Start the help desk, run `body`, always stop it."""
    await app.start(drain=drain)
    try:
        return await body(app)
    finally:
        await app.stop()
