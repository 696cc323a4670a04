"""Service levels: business calendars per queue and the deadlines stored on tickets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import CalendarConfig, ServiceConfig, SlaPolicy, parse_duration
from bot.core.calendar import BusinessCalendar, add_business_time, business_days, business_time_between
from bot.i18n import t

DEADLINE_MEMORY = 8192  # due and warning times remembered per clock (a few MB at most)
ALWAYS_OPEN = BusinessCalendar.build("UTC", range(7), ((time(0), time(0)),), always_open=True)


def build_calendar(cfg: CalendarConfig, extra_closed: Iterable[date] = ()) -> BusinessCalendar:
    """A business calendar from its config section (raises CalendarError when it is wrong)."""
    hours = [(start, time(0) if end == time.max else end) for start, end in cfg.spans()]
    closed = {date.fromisoformat(d) for d in cfg.closed_days} | set(extra_closed)
    return BusinessCalendar.build(cfg.timezone, cfg.day_numbers(), hours, cfg.holiday_country,
                                  cfg.holiday_subdivision, extra_closed=closed)


def local_time(moment: datetime, timezone: str) -> str:
    """'2026-06-03 17:00 EAT': a moment as people in `timezone` read it."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


class SlaClock:
    """Turns the policy's business durations into due times for a queue and priority."""

    def __init__(self, config: ServiceConfig, extra_closed: Mapping[str, Iterable[date]] | None = None) -> None:
        self._config = config
        extra = extra_closed or {}
        self._calendars = {
            q.id: build_calendar(config.calendars[q.calendar], extra.get(q.id, ())) for q in config.queues
        }
        # Every ticket action asks for the same few policies and spans: both are fixed for this clock.
        self._policies: dict[tuple[str, str], SlaPolicy] = {}
        self._spans: dict[tuple[str, str, str], timedelta] = {}
        # A ticket's deadlines are recomputed after each of its actions, mostly from the same moments.
        self._due = lru_cache(maxsize=DEADLINE_MEMORY)(self._compute_due)
        self._warn_at = lru_cache(maxsize=DEADLINE_MEMORY)(self._compute_warn_at)

    def policy(self, queue_id: str, priority: str) -> SlaPolicy:
        """The SLA policy of a queue and priority (see `ServiceConfig.policy`)."""
        key = (queue_id, priority)
        if key not in self._policies:
            self._policies[key] = self._config.policy(queue_id, priority)
        return self._policies[key]

    @property
    def queue_ids(self) -> list[str]:
        """The queues this clock has calendars for."""
        return list(self._calendars)

    def calendar(self, queue_id: str, priority: str = "normal") -> BusinessCalendar:
        """The queue's calendar, or the 24/7 one when the policy runs on calendar time."""
        if self.policy(queue_id, priority).calendar_time:
            return ALWAYS_OPEN
        return self._calendars[queue_id]

    def timezone(self, queue_id: str) -> str:
        """The time zone of the queue's business calendar."""
        return self._calendars[queue_id].timezone

    def span(self, queue_id: str, priority: str, target: str) -> timedelta:
        """A policy duration (e.g. 'first_response') as business time of the queue's calendar."""
        key = (queue_id, priority, target)
        if key not in self._spans:
            amount, unit = parse_duration(getattr(self.policy(queue_id, priority), target))
            if unit == "d":
                self._spans[key] = business_days(amount, self.calendar(queue_id, priority))
            else:
                self._spans[key] = timedelta(hours=amount) if unit == "h" else timedelta(minutes=amount)
        return self._spans[key]

    def due(self, queue_id: str, priority: str, target: str, start: datetime) -> datetime:
        """When `target` falls due for work starting at `start`."""
        return self._due(queue_id, priority, target, start)

    def _compute_due(self, queue_id: str, priority: str, target: str, start: datetime) -> datetime:
        return add_business_time(start, self.span(queue_id, priority, target), self.calendar(queue_id, priority))

    def warn_at(self, queue_id: str, priority: str, target: str, due: datetime, since: datetime) -> datetime:
        """When the pre-breach warning of a deadline falls due: with (100 - pre_breach_percent)% of its span left.

        `since` is any moment before the deadline (e.g. when the ticket opened).
        """
        return self._warn_at(queue_id, priority, target, due, since)

    def _compute_warn_at(self, queue_id: str, priority: str, target: str, due: datetime, since: datetime) -> datetime:
        calendar = self.calendar(queue_id, priority)
        percent = self.policy(queue_id, priority).pre_breach_percent
        left = self.span(queue_id, priority, target) * (100 - percent)
        elapsed = business_time_between(since, due, calendar) - left / 100
        return add_business_time(since, max(timedelta(), elapsed), calendar)

    def on_open(self, queue_id: str, priority: str, now: datetime) -> dict[str, Any]:
        """Deadlines of a new ticket; its escalation ladder starts now."""
        return {
            "first_response_due": self.due(queue_id, priority, "first_response", now),
            "resolution_due": self.due(queue_id, priority, "resolution", now),
        } | self.on_release(now)

    def on_claim(self, queue_id: str, priority: str, now: datetime) -> dict[str, datetime]:
        """A claim lasts until the claim expiry unless the expert replies."""
        return {"claim_expires_at": self.due(queue_id, priority, "claim_expiry", now)}

    def on_expert_reply(self, queue_id: str, priority: str, now: datetime) -> dict[str, datetime]:
        """An expert's reply renews the claim."""
        return self.on_claim(queue_id, priority, now)

    def on_practitioner_reply(self, queue_id: str, priority: str, now: datetime) -> dict[str, datetime]:
        """The practitioner wrote again: the next response falls due."""
        return {"next_response_due": self.due(queue_id, priority, "next_response", now)}

    def on_release(self, now: datetime) -> dict[str, Any]:
        """Back in the queue unclaimed (opened, released, moved, claim expired): the ladder starts again."""
        return {"claim_expires_at": None, "queued_at": now, "sla_level": 0}

    def on_wait(self, queue_id: str, priority: str, now: datetime) -> dict[str, Any]:
        """Waiting on the practitioner pauses the clock and starts the waiting ladder."""
        return {"sla_paused_at": now, "claim_expires_at": None, "sla_level": 0}

    def on_resume(self, ticket: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """The practitioner answered: deadlines still ahead at the pause keep their remaining business time."""
        paused = ticket.get("sla_paused_at")
        values: dict[str, Any] = {"sla_paused_at": None, "sla_level": 0}
        if paused is None:
            return values
        queue_id, priority = ticket["queue_id"], ticket["priority"]
        calendar = self.calendar(queue_id, priority)
        for column in ("first_response_due", "next_response_due", "resolution_due"):
            due = ticket.get(column)
            met = column == "first_response_due" and ticket.get("first_response_at") is not None
            if due is not None and due > paused and not met:
                values[column] = add_business_time(now, business_time_between(paused, due, calendar), calendar)
        if ticket.get("assignee_id") is not None:
            values |= self.on_claim(queue_id, priority, now)
        return values

    def on_resolve(self) -> dict[str, None]:
        """A resolved (or closed) ticket has nothing pending."""
        return {"claim_expires_at": None, "next_response_due": None, "sla_paused_at": None, "sla_next_at": None}

    def on_reopen(self, queue_id: str, priority: str, now: datetime, assigned: bool) -> dict[str, Any]:
        """A reopened ticket owes the practitioner a next response; its expert's claim (or the ladder) restarts."""
        claim = self.on_claim(queue_id, priority, now) if assigned else self.on_release(now)
        return self.on_practitioner_reply(queue_id, priority, now) | claim

    def on_priority(self, queue_id: str, priority: str, created: datetime) -> dict[str, datetime]:
        """New priority, new targets, counted from when the ticket was opened."""
        return {
            "first_response_due": self.due(queue_id, priority, "first_response", created),
            "resolution_due": self.due(queue_id, priority, "resolution", created),
        }

    def describe(self, queue_id: str, priority: str, target: str, lang: str) -> str:
        """A policy duration in words, e.g. '2 business days', '1 jour ouvré', in `lang` (plural rules by Babel)."""
        policy = self.policy(queue_id, priority)
        amount, unit = parse_duration(getattr(policy, target))
        kind = "calendar" if policy.calendar_time else "business"
        return t(f"promise.{kind}.{unit}", lang, n=int(amount) if float(amount).is_integer() else amount)

    def promise(self, queue_id: str, priority: str, lang: str) -> str:
        """The first-response promise, '2 business days', in the practitioner's language."""
        return self.describe(queue_id, priority, "first_response", lang)
