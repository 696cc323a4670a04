"""Service levels: business calendars per queue and the deadlines stored on tickets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.config import CalendarConfig, ServiceConfig, parse_duration
from bot.core.calendar import BusinessCalendar, add_business_time, business_days, business_time_between
from bot.i18n import t

ALWAYS_OPEN = BusinessCalendar.build("UTC", range(7), ((time(0), time(0)),), always_open=True)


def build_calendar(cfg: CalendarConfig, extra_closed: Iterable[date] = ()) -> BusinessCalendar:
    """A business calendar from its config section (raises CalendarError when it is wrong)."""
    hours = [(start, time(0) if end == time.max else end) for start, end in cfg.spans()]
    closed = {date.fromisoformat(d) for d in cfg.closed_days} | set(extra_closed)
    return BusinessCalendar.build(cfg.timezone, cfg.day_numbers(), hours, cfg.holiday_country,
                                  cfg.holiday_subdivision, extra_closed=closed)


class SlaClock:
    """Turns the policy's business durations into due times for a queue and priority."""

    def __init__(self, config: ServiceConfig, extra_closed: Mapping[str, Iterable[date]] | None = None) -> None:
        self._config = config
        extra = extra_closed or {}
        self._calendars = {
            q.id: build_calendar(config.calendars[q.calendar], extra.get(q.id, ())) for q in config.queues
        }

    def calendar(self, queue_id: str, priority: str = "normal") -> BusinessCalendar:
        """The queue's calendar, or the 24/7 one when the policy runs on calendar time."""
        if self._config.policy(queue_id, priority).calendar_time:
            return ALWAYS_OPEN
        return self._calendars[queue_id]

    def span(self, queue_id: str, priority: str, target: str) -> timedelta:
        """A policy duration (e.g. 'first_response') as business time of the queue's calendar."""
        amount, unit = parse_duration(getattr(self._config.policy(queue_id, priority), target))
        if unit == "d":
            return business_days(amount, self.calendar(queue_id, priority))
        return timedelta(hours=amount) if unit == "h" else timedelta(minutes=amount)

    def due(self, queue_id: str, priority: str, target: str, start: datetime) -> datetime:
        """When `target` falls due for work starting at `start`."""
        return add_business_time(start, self.span(queue_id, priority, target), self.calendar(queue_id, priority))

    def on_open(self, queue_id: str, priority: str, now: datetime) -> dict[str, datetime]:
        """Deadlines of a new ticket."""
        return {
            "first_response_due": self.due(queue_id, priority, "first_response", now),
            "resolution_due": self.due(queue_id, priority, "resolution", now),
            "sla_next_at": self.due(queue_id, priority, "unclaimed_reminder", now),
        }

    def on_claim(self, queue_id: str, priority: str, now: datetime) -> dict[str, datetime]:
        """A claim lasts until the claim expiry unless the expert replies."""
        return {"claim_expires_at": self.due(queue_id, priority, "claim_expiry", now)}

    def on_expert_reply(self, queue_id: str, priority: str, now: datetime) -> dict[str, datetime]:
        """An expert's reply renews the claim."""
        return self.on_claim(queue_id, priority, now)

    def on_practitioner_reply(self, queue_id: str, priority: str, now: datetime) -> dict[str, datetime]:
        """The practitioner wrote again: the next response falls due."""
        return {"next_response_due": self.due(queue_id, priority, "next_response", now)}

    def on_wait(self, queue_id: str, priority: str, now: datetime) -> dict[str, datetime | None]:
        """Waiting on the practitioner pauses the clock."""
        return {"sla_paused_at": now, "claim_expires_at": None}

    def on_resume(self, ticket: Mapping[str, Any], now: datetime) -> dict[str, datetime | None]:
        """The practitioner answered: deadlines move by the business time spent waiting."""
        paused = ticket.get("sla_paused_at")
        values: dict[str, datetime | None] = {"sla_paused_at": None}
        if paused is None:
            return values
        calendar = self.calendar(ticket["queue_id"], ticket["priority"])
        for column in ("first_response_due", "resolution_due"):
            due = ticket.get(column)
            if due is not None:
                values[column] = add_business_time(now, max(timedelta(), business_time_between(paused, due, calendar)),
                                                   calendar)
        values |= self.on_claim(ticket["queue_id"], ticket["priority"], now)
        return values

    def on_resolve(self) -> dict[str, None]:
        """A resolved ticket has nothing pending."""
        return {"claim_expires_at": None, "next_response_due": None, "sla_paused_at": None, "sla_next_at": None}

    def on_reopen(self, queue_id: str, priority: str, now: datetime) -> dict[str, datetime]:
        """A reopened ticket owes the practitioner a next response."""
        return self.on_practitioner_reply(queue_id, priority, now)

    def on_priority(self, queue_id: str, priority: str, created: datetime) -> dict[str, datetime]:
        """New priority, new targets, counted from when the ticket was opened."""
        return {
            "first_response_due": self.due(queue_id, priority, "first_response", created),
            "resolution_due": self.due(queue_id, priority, "resolution", created),
        }

    def promise(self, queue_id: str, priority: str, lang: str) -> str:
        """'2 business days' in the practitioner's language."""
        policy = self._config.policy(queue_id, priority)
        amount, unit = parse_duration(policy.first_response)
        kind = "calendar" if policy.calendar_time else "business"
        return t(f"promise.{kind}.{unit}", lang, n=f"{amount:g}")
