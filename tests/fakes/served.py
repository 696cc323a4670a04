"""What both fake servers share: `async with` around start/stop, waiting for a condition, their base URL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web


class ServedFake:
    """A fake API server: subclasses implement `start()` (serving their routes with `_serve`) and `stop()`
    (ending with `_shut_down`)."""

    _base_url = ""
    _runner: web.AppRunner | None = None

    async def _serve(self, app: web.Application, host: str, port: int) -> str:
        """Serve `app` on host:port (0: any free port); return and remember the base URL."""
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self._base_url = f"http://{bound_host}:{bound_port}"
        return self._base_url

    async def _shut_down(self) -> None:
        """Stop serving (nothing when not started)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

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
