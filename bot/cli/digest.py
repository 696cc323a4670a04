"""`helpdesk digest`: what the next topic digest of a queue would contain, and sending the due ones now."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated

import typer

from bot.app import HelpDesk
from bot.cli.common import desk, fail, run, with_started
from bot.core import digest
from bot.i18n import LANGUAGES

digest_app = typer.Typer(help="Topic digests: preview the next one, send the due ones.", no_args_is_help=True)
SINCE_HELP = "list what changed since this day (YYYY-MM-DD, UTC); default: one week ago"


@digest_app.command("preview")
def digest_preview(queue: Annotated[str, typer.Option(help="the queue (topic)")],
                   lang: Annotated[str, typer.Option(help="en, es or fr")] = "en",
                   since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help=SINCE_HELP)] = None,
                   ) -> None:
    """Print the digest a subscriber of --queue in --lang would get for what changed since --since (sends nothing)."""
    app_ = desk()
    if queue.upper() not in app_.config.queue_ids:
        raise fail(f"unknown queue {queue!r}; queues: {', '.join(app_.config.queue_ids)}")
    if lang not in LANGUAGES:
        raise fail(f"unknown language {lang!r}; languages: {', '.join(LANGUAGES)}")
    start = (datetime.combine(since.date(), time(), UTC) if since else app_.clock.now() - timedelta(days=7))

    async def body(started: HelpDesk) -> list[digest.Item]:
        async with started.engine.connect() as conn:
            return await digest.items(conn, [queue.upper()], lang, start)

    found = run(with_started(app_, body, drain=False))
    if not found:
        typer.echo(f"Nothing new in {queue.upper()} since {start.date()}: no digest would be sent.")
        return
    typer.echo(digest.text(found, lang))


@digest_app.command("send")
def digest_send() -> None:
    """Send the digests that are due now (each subscriber's once a period; the running bot delivers them)."""
    app_ = desk()

    async def body(started: HelpDesk) -> int:
        assert started.services is not None
        return await digest.send_due(started.engine, started.services, started.clock.now())

    typer.echo(f"{run(with_started(app_, body, drain=False))} digest(s) written to the outbox.")
