"""Per-person inbound rate limit: a sliding window in process memory (abuse control, not accounting)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta


class InboundLimiter:
    """Allows `limit` messages per `window` per person; tells the caller when to warn once."""

    def __init__(self, limit: int, window: timedelta = timedelta(minutes=1)) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[int, deque[datetime]] = {}
        self._warned: dict[int, datetime] = {}

    def check(self, person_id: int, now: datetime) -> str:
        """'ok', 'warn' (first message over the limit in this window) or 'drop'."""
        times = self._seen.setdefault(person_id, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        times.append(now)
        if len(times) <= self.limit:
            return "ok"
        warned = self._warned.get(person_id)
        if warned is not None and now - warned < self.window:
            return "drop"
        self._warned[person_id] = now
        return "warn"
