"""The SLA job: one APScheduler interval job per process sweeps for due items and sends digests.

Several processes may each run it: the sweep's row locks and the `sla_event` unique key keep every
reminder and escalation to exactly one. The first run happens at start, so whatever fell due
while the bot was down is caught up at once. Nothing is scheduled at import time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.calendar_changes import follow_calendars
from bot.core.digest import send_due
from bot.core.kb_review import remind_stale_owners
from bot.core.outbox_watch import warn_if_backed_up
from bot.core.outcomes import ask_due
from bot.core.privacy import apply_retention
from bot.core.reminders import flush_digests
from bot.core.response_times import response_times
from bot.core.services import Services
from bot.core.sla_sweep import SweepResult, sweep
from bot.faults import log_failure

log = logging.getLogger(__name__)
WARM_REPORTS_AFTER = 10  # seconds after start: let the channels connect first


async def sla_round(engine: AsyncEngine, services: Services, now: datetime) -> SweepResult:
    """One go of the SLA engine: follow calendar changes, fire what is due at `now`, send the digests that may go,
    ask the "did you apply it?" questions fallen due, send the topic digests due."""
    await follow_calendars(engine, services)
    result = await sweep(engine, services, now)
    result.messages += await flush_digests(engine, services, now)
    for job, what in ((ask_due, "outcome questions"), (send_due, "topic digests")):
        try:
            result.messages += await job(engine, services, now)
        except Exception:
            log.exception("%s failed; the next round tries again", what)
    return result


class SlaScheduler:
    """Runs `sla_round` every `seconds` on the event loop of the help desk."""

    def __init__(self, engine: AsyncEngine, services: Services, seconds: float,
                 on_commit: Callable[[], None] | None = None,
                 on_minute: Callable[[], Awaitable[object]] | None = None) -> None:
        self._engine = engine
        self._services = services
        self._seconds = seconds
        self._on_commit = on_commit
        self._on_minute = on_minute
        self._scheduler: AsyncIOScheduler | None = None
        self._busy = asyncio.Lock()

    @property
    def running(self) -> bool:
        """Whether the job is scheduled."""
        return self._scheduler is not None

    def start(self) -> None:
        """Schedule the job; its first run is now."""
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_job(self.tick, "interval", seconds=self._seconds, id="sla", max_instances=1,
                                coalesce=True, next_run_time=datetime.now(UTC))
        self._scheduler.add_job(self.retention, "interval", hours=6, id="retention", max_instances=1,
                                coalesce=True, next_run_time=datetime.now(UTC))
        self._scheduler.add_job(self.every_minute, "interval", minutes=1, id="minute", max_instances=1,
                                coalesce=True)
        self._scheduler.add_job(self.warm_reports, "date", id="warm-reports",
                                run_date=datetime.now(UTC) + timedelta(seconds=WARM_REPORTS_AFTER))
        self._scheduler.start()

    async def stop(self) -> None:
        """Stop scheduling and wait for a round in progress to finish."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        async with self._busy:
            pass

    async def retention(self) -> None:
        """Anonymise old closed tickets' message bodies and remind owners of stale FAQ entries (weekly).

        Both are idempotent; several processes may run them.
        """
        try:
            await remind_stale_owners(self._engine, self._services, self._services.clock.now())
        except Exception as exc:
            log_failure(log, "FAQ review reminders failed", exc, "they come again next week")
        try:
            async with self._engine.begin() as conn:
                count = await apply_retention(conn, self._services.clock.now(),
                                              self._services.config.service.retention_months, self._services.files)
        except Exception as exc:
            log_failure(log, "retention round failed", exc, "it runs again next week")
            return
        if count:
            log.info("retention: anonymised %d closed tickets", count)

    async def warm_reports(self) -> None:
        """Measure every answered ticket's first-response time once, soon after start, so that the first
        report over all time (dashboard charts, `sla.csv`) does not pay for it."""
        try:
            async with self._engine.connect() as conn:
                await response_times(conn, self._services.sla, None, None)
        except Exception as exc:
            log_failure(log, "warming the report figures failed", exc, "the first report will measure them")

    async def every_minute(self) -> None:
        """The minute hook (e.g. pick up FAQ entries changed by the CLI or another process), then the outbox watch."""
        if self._on_minute is not None:
            try:
                await self._on_minute()
            except Exception as exc:
                log_failure(log, "minute hook failed", exc, "again in a minute")
        try:
            warned = await warn_if_backed_up(self._engine, self._services, self._services.clock.now())
        except Exception as exc:
            log_failure(log, "outbox watch failed", exc, "again in a minute")
            return
        if warned and self._on_commit is not None:
            self._on_commit()

    async def tick(self) -> None:
        """One round; errors are logged, the next round comes anyway."""
        async with self._busy:
            try:
                result = await sla_round(self._engine, self._services, self._services.clock.now())
            except Exception as exc:
                log_failure(log, "SLA round failed", exc, "the next round tries again")
                return
        if result.events or result.failed:
            log.info("SLA round: %s", result)
        if result.messages and self._on_commit is not None:
            self._on_commit()
