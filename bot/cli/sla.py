"""`helpdesk sla`: the operator's clock — what the SLA job would send at a given time, without sending it."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from bot.app import HelpDesk
from bot.cli.common import desk, moment, run, with_started
from bot.core.sla_preview import PlannedMessage, preview

sla_app = typer.Typer(help="Service levels: preview the SLA job.", no_args_is_help=True)
AT_HELP = "the time to look at: ISO 8601, e.g. 2026-03-04T13:00 (UTC) or 2026-03-04T13:00+03:00"


@sla_app.command("preview")
def sla_preview(at: Annotated[str, typer.Option("--at", help=AT_HELP)],
                as_json: Annotated[bool, typer.Option("--json", help="one JSON list")] = False) -> None:
    """List what the SLA job would send at --at (reminders, escalations, warnings, breaches, digests) and to
    whom, without sending anything or recording any event."""
    when = moment(at, "--at")
    app_ = desk()

    async def body(started: HelpDesk) -> list[PlannedMessage]:
        assert started.services is not None
        return await preview(started.engine, started.services, when)

    planned = run(with_started(app_, body, drain=False))
    if as_json:
        typer.echo(json.dumps([asdict(p) for p in planned], ensure_ascii=False, indent=2))
        return
    stamp = when.isoformat(sep=" ", timespec="minutes")
    typer.echo(f"Messages the SLA job would send at {stamp}: {len(planned)}; nothing was sent.")
    for n, p in enumerate(planned, 1):
        who = f"{p.to} ({p.channel} {p.chat_id})" if p.to else f"{p.channel} {p.chat_id}"
        about = f" · ticket #{p.ticket_id}" if p.ticket_id is not None else ""
        edit = " · edits its card" if p.kind == "edit" else ""
        typer.echo(f"\n{n}. to {who}{about}{edit}")
        typer.echo("   " + p.text.replace("\n", "\n   "))
