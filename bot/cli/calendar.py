"""`helpdesk calendar`: custom closed days (holidays) per queue, on top of the public holidays."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from bot.app import HelpDesk
from bot.cli.common import console, desk, fail, run
from bot.core.calendar_changes import change_closed_day
from bot.core.closed_days import list_closed_days

calendar_app = typer.Typer(help="Business calendars: custom closed days per queue.", no_args_is_help=True)
Day = Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="YYYY-MM-DD")]
NOTE = "running help desks follow at their next SLA sweep"


def _queue(app_: HelpDesk, queue: str) -> str:
    if queue.upper() not in app_.config.queue_ids:
        raise fail(f"unknown queue {queue!r}; queues: {', '.join(app_.config.queue_ids)}")
    return queue.upper()


def _change(queue: str, day: datetime, name: str | None) -> tuple[str, int | None]:
    """Add (with a name) or remove (None) a closed day in one transaction; (queue, tickets moved or None)."""
    app_ = desk()
    queue_id = _queue(app_, queue)

    async def go() -> int | None:
        await app_.check_database()
        await app_.sync_config()
        async with app_.engine.begin() as conn:
            moved = await change_closed_day(conn, app_.config, queue_id, day.date(), app_.clock.now(), name)
        await app_.engine.dispose()
        return moved

    return queue_id, run(go())


def _moved(count: int) -> str:
    return f"open tickets whose deadlines moved: {count}; {NOTE}"


@calendar_app.command("add-holiday")
def add_holiday(queue: str, day: Day, name: Annotated[str, typer.Argument(help="e.g. 'National Day'")] = "") -> None:
    """Close a queue on a date: no business time counts that day; stored deadlines of open tickets move."""
    queue_id, moved = _change(queue, day, name)
    if moved is None:
        raise fail(f"{queue_id} is already closed on {day.date()}")
    if day.date() < datetime.now(UTC).date():
        console.print(f"warning: {day.date()} is in the past", markup=False)
    console.print(f"{queue_id} is closed on {day.date()} {name}".rstrip() + f" ({_moved(moved)})", markup=False)


@calendar_app.command("remove-holiday")
def remove_holiday(queue: str, day: Day) -> None:
    """Open a queue again on a date closed with add-holiday; stored deadlines of open tickets move back."""
    queue_id, moved = _change(queue, day, None)
    if moved is None:
        raise fail(f"{queue_id} has no custom closed day on {day.date()}")
    console.print(f"{queue_id} is open again on {day.date()} ({_moved(moved)})", markup=False)


@calendar_app.command("list")
def list_holidays(queue: Annotated[str | None, typer.Option(help="only this queue")] = None) -> None:
    """List the custom closed days (public holidays come from each calendar's country)."""
    app_ = desk()
    queue_id = _queue(app_, queue) if queue else None

    async def go() -> list[tuple[str, str, str]]:
        await app_.check_database()
        async with app_.engine.connect() as conn:
            rows = await list_closed_days(conn, queue_id)
        await app_.engine.dispose()
        return [(r.queue_id, r.day.isoformat(), r.name) for r in rows]

    table = Table("queue", "date", "name")
    for row in run(go()):
        table.add_row(*row)
    console.print(table)
