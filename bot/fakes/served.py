"""What both fake servers share: `async with` around start/stop, waiting for a condition, their base URL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self


class ServedFake:
    """A fake API server: subclasses implement `start()` (setting `_base_url`) and `stop()`."""

    _base_url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving; return the base URL."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Stop serving."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll ``predicate`` until it is true; raise TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met in time")
            await asyncio.sleep(0.01)

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return self._base_url
