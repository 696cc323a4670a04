"""`helpdesk privacy`: export or erase everything held about a person."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.common import console, desk, fail, run
from bot.cli.progress import progress
from bot.core.files import FileStore
from bot.core.privacy import erase_person, export_person, find_person
from bot.db.models import Audit, table

privacy_app = typer.Typer(help="Personal data: export and erase.", no_args_is_help=True)
PERSON_HELP = "person id, handle, or channel:user_id (e.g. telegram:12345)"


async def _locate(app_: Any, person: str) -> int:
    await app_.check_database()
    async with app_.engine.connect() as conn:
        found = await find_person(conn, person)
    if found is None:
        raise fail(f"no person {person!r}")
    return int(found)


@privacy_app.command("export")
def export(person: Annotated[str, typer.Argument(help=PERSON_HELP)],
           out: Annotated[Path | None, typer.Option(help="write the JSON to this file")] = None) -> None:
    """Everything held about a person, as JSON (profile, messages, tickets, ratings, triage, audit)."""
    app_ = desk()

    async def go() -> dict[str, Any]:
        person_id = await _locate(app_, person)
        async with app_.engine.begin() as conn:
            data = await export_person(conn, person_id)
            await conn.execute(table(Audit).insert().values(at=app_.clock.now(), actor_id=None, action="privacy.export",
                                                            allowed=True, detail={"person": person_id, "by": "cli"}))
        await app_.engine.dispose()
        return data

    text = json.dumps(run(go()), ensure_ascii=False, indent=2, default=str)
    if out is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"written to {out}", markup=False)


@privacy_app.command("erase")
def erase(person: Annotated[str, typer.Argument(help=PERSON_HELP)],
          yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False) -> None:
    """Remove or anonymise a person's data everywhere, keeping anonymous counts for reports."""
    if not yes and not typer.confirm(f"Erase every personal datum of {person}?"):
        raise typer.Exit(1)
    app_ = desk()

    async def go() -> dict[str, int]:
        person_id = await _locate(app_, person)
        async with app_.engine.begin() as conn:
            with progress("privacy erase: steps") as report:
                counts = await erase_person(conn, person_id, app_.clock.now(),
                                            FileStore(app_.settings.helpdesk_files_dir), progress=report)
            await conn.execute(table(Audit).insert().values(
                at=app_.clock.now(), actor_id=None, action="privacy.erase", allowed=True,
                detail={"person": person_id, "by": "cli", **counts}))
        await app_.engine.dispose()
        return counts

    counts = run(go())
    console.print("erased: " + ", ".join(f"{k} {v}" for k, v in counts.items()), markup=False)
