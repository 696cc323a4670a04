"""Send pacing: token buckets per chat and for the whole bot, so the platform never has to say 429."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.core.budgets import Budget


class TokenBucket:
    """A token bucket on a monotonic clock; may go into debt for a message sent in several parts."""

    def __init__(self, budget: Budget, now: float) -> None:
        self.budget = budget
        self.tokens = budget.burst
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0 when one is)."""
        self.tokens = min(self.budget.burst, self.tokens + (now - self.updated) * self.budget.per_second)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.budget.per_second

    def full(self, now: float) -> bool:
        """True when the bucket has refilled completely (it can be forgotten)."""
        return self.wait(now) == 0 and self.tokens >= self.budget.burst


class Pacer:
    """Per-chat budgets (private chats and groups differ) under one global budget."""

    def __init__(self, private: Budget, group: Budget, overall: Budget,
                 clock: Callable[[], float] = time.monotonic, max_chats: int = 10_000) -> None:
        self._private, self._group = private, group
        self._clock = clock
        self._global = TokenBucket(overall, clock())
        self._chats: dict[str, TokenBucket] = {}
        self._max_chats = max_chats

    def _bucket(self, chat: str, group: bool) -> TokenBucket:
        bucket = self._chats.get(chat)
        if bucket is None:
            if len(self._chats) >= self._max_chats:
                now = self._clock()
                self._chats = {k: b for k, b in self._chats.items() if not b.full(now)}
            bucket = self._chats[chat] = TokenBucket(self._group if group else self._private, self._clock())
        return bucket

    def chat_wait(self, chat: str, group: bool) -> float:
        """Seconds before this chat may get another post (0: now)."""
        return self._bucket(chat, group).wait(self._clock())

    async def take(self, chat: str, group: bool) -> None:
        """Use one post of the chat's budget, waiting (briefly) for the global budget."""
        while (wait := self._global.wait(self._clock())) > 0:
            await asyncio.sleep(wait)
        self._global.tokens -= 1
        self._bucket(chat, group).tokens -= 1
