"""In-memory limits per client address: chat posts per minute, new chat visitors and new tickets per hour.

The address is the connection's peer, or what a configured proxy says (HELPDESK_TRUSTED_PROXIES; uvicorn
reads X-Forwarded-For only from those): a local process cannot pretend to be many visitors.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Iterable

from starlette.requests import Request

MAX_ADDRESSES = 10_000  # addresses a limit remembers before it forgets the quiet ones
HOUR = 3600.0


def client_address(request: Request) -> str:
    """Who sent the request, as far as the server can tell."""
    return request.client.host if request.client else "unknown"


class IpLimiter:
    """At most `limit` requests per `window` seconds from one address (sliding window, in memory)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def retry_after(self, address: str) -> int:
        """0 when the request may go ahead (and is counted), else the seconds to wait."""
        now = time.monotonic()
        if len(self._hits) > MAX_ADDRESSES:  # forget addresses that went quiet
            self._hits = defaultdict(deque, {a: h for a, h in self._hits.items() if h and h[-1] > now - self.window})
        hits = self._hits[address]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, int(hits[0] + self.window - now + 0.999))
        hits.append(now)
        return 0


class RecentTickets:
    """The tickets opened from each address in the last `window` seconds; full at `limit` (in memory)."""

    def __init__(self, limit: int, window: float = HOUR) -> None:
        self.limit, self.window = limit, window
        self._opened: dict[str, dict[int, float]] = defaultdict(dict)  # address -> ticket id -> when

    def full(self, address: str) -> bool:
        """Whether the address opened `limit` tickets within the window."""
        cutoff = time.monotonic() - self.window
        if len(self._opened) > MAX_ADDRESSES:
            self._opened = defaultdict(dict, {a: o for a, o in self._opened.items()
                                              if max(o.values(), default=0.0) > cutoff})
        opened = self._opened[address]
        for ticket_id in [t for t, at in opened.items() if at <= cutoff]:
            del opened[ticket_id]
        return len(opened) >= self.limit

    def add(self, address: str, tickets: Iterable[int]) -> None:
        """Count tickets opened from the address (a ticket counts once)."""
        now = time.monotonic()
        for ticket_id in tickets:
            self._opened[address].setdefault(ticket_id, now)
