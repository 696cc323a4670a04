"""What a ticket is owed by the SLA engine, and when the sweep must look at it next. Pure.

Each obligation is an item keyed like its `sla_event` row — (kind, level, deadline) — and due at a
moment `at`:

| kind            | level                                  | deadline / at                                  |
|-----------------|----------------------------------------|------------------------------------------------|
| `unclaimed`     | 1 queue reminder, 2 lead, 3 secretariat | queued_at + the step's policy duration         |
| `claim_expired` | 0                                      | claim_expires_at                               |
| `warning`       | 1 first response, 2 next, 3 resolution | the target's due time / pre-breach moment      |
| `breach`        | as `warning`                           | the target's due time                          |
| `waiting`       | 1 reminder, 2 auto-close               | sla_paused_at + the step's policy duration     |

Ladders (`unclaimed`, `waiting`) remember their progress in `ticket.sla_level`; warnings and breaches
in the `sla_event` rows already written (`fired`). Catching up after downtime, only the latest step
of a ladder is owed, and a warning whose deadline has passed gives way to the breach.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.sla import SlaClock

TARGETS = ("first_response", "next_response", "resolution")  # warning and breach levels 1..3
UNCLAIMED = ("unclaimed_reminder", "lead_escalation", "secretariat_escalation")
WAITING = ("waiting_reminder", "waiting_autoclose")

EventKey = tuple[str, int, datetime]


@dataclass(frozen=True)
class Due:
    """One obligation of a ticket: an `sla_event` key and the moment it falls due."""

    kind: str
    level: int
    deadline: datetime
    at: datetime

    @property
    def key(self) -> EventKey:
        """Its `sla_event` key (with the ticket id, unique)."""
        return self.kind, self.level, self.deadline


def _ladder(kind: str, steps: Sequence[str], start: datetime | None, done: int, ticket: Mapping[str, Any],
            sla: SlaClock, now: datetime) -> list[Due]:
    """The step owed next: the latest one reached, else the first one not reached yet."""
    if start is None:
        return []
    queue_id, priority = ticket["queue_id"], ticket["priority"]
    owed = []
    for level, target in enumerate(steps, 1):
        if level > done:
            at = sla.due(queue_id, priority, target, start)
            owed.append(Due(kind, level, at, at))
    reached = [d for d in owed if d.at <= now]
    return reached[-1:] if reached else owed[:1]


def _deadlines(ticket: Mapping[str, Any], sla: SlaClock, now: datetime, fired: Collection[EventKey]) -> list[Due]:
    """Pre-breach warnings and breaches of the targets not met yet."""
    owed = []
    for level, target in enumerate(TARGETS, 1):
        due = ticket[f"{target}_due"]
        if due is None or (target == "first_response" and ticket["first_response_at"] is not None):
            continue
        if ("breach", level, due) not in fired:
            owed.append(Due("breach", level, due, due))
        if due > now and ("warning", level, due) not in fired:
            at = sla.warn_at(ticket["queue_id"], ticket["priority"], target, due, ticket["created_at"])
            owed.append(Due("warning", level, due, at))
    return owed


def pending(ticket: Mapping[str, Any], sla: SlaClock, now: datetime, fired: Collection[EventKey] = ()) -> list[Due]:
    """Everything a ticket in an open state (new, open, waiting) is still owed, due or not.

    `ticket` holds the columns of its row.
    """
    if ticket["state"] == "waiting":  # the deadlines are paused
        return _ladder("waiting", WAITING, ticket["sla_paused_at"], ticket["sla_level"], ticket, sla, now)
    owed = _deadlines(ticket, sla, now, fired)
    if ticket["assignee_id"] is None:
        owed += _ladder("unclaimed", UNCLAIMED, ticket["queued_at"], ticket["sla_level"], ticket, sla, now)
    elif ticket["claim_expires_at"] is not None:
        owed.append(Due("claim_expired", 0, ticket["claim_expires_at"], ticket["claim_expires_at"]))
    return owed


def next_check(ticket: Mapping[str, Any], sla: SlaClock, now: datetime,
               fired: Collection[EventKey] = ()) -> datetime | None:
    """When the sweep must next look at a ticket in an open state (None: never, unless it changes).

    Without `fired` the answer may be early (a warning already sent counts as owed), never late.
    """
    return min((d.at for d in pending(ticket, sla, now, fired)), default=None)
