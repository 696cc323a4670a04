"""The app's HTTP server: health and readiness, and the channels' webhooks. Add pages with more routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.app import HelpDesk
from bot.channels.base import LiveChannel
from bot.db.engine import DatabaseUnavailable

log = logging.getLogger(__name__)


def create_http_app(desk: HelpDesk, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    """/healthz (the process answers), /readyz (database reachable and migrated) and every channel's routes."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        try:
            await desk.check_database()
        except DatabaseUnavailable as exc:
            return JSONResponse({"ready": False, "reason": str(exc)}, status_code=503)
        return JSONResponse({"ready": True})

    routes: list[BaseRoute] = [Route("/healthz", healthz), Route("/readyz", readyz)]
    for channel in desk.channels.values():
        if isinstance(channel, LiveChannel):
            routes += channel.routes()
    return Starlette(routes=routes + list(extra_routes or ()))


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the runner owns SIGTERM/SIGINT
        yield


class HttpServer:
    """uvicorn serving an ASGI app in the running event loop."""

    def __init__(self, app: Starlette, host: str, port: int, trusted_proxies: Sequence[str] = ()) -> None:
        """`trusted_proxies`: the addresses (or networks) whose X-Forwarded-For and X-Forwarded-Proto are believed;
        none by default, so a client's address is the connection's (uvicorn itself would trust 127.0.0.1)."""
        self._server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                              access_log=False, timeout_graceful_shutdown=2,  # ends SSE streams
                                              proxy_headers=bool(trusted_proxies),
                                              forwarded_allow_ips=list(trusted_proxies) or None))
        self._host, self._port = host, port
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and serve; raise if the port cannot be bound."""
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http")
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Finish in-flight requests and stop."""
        if self._task is not None:
            self._server.should_exit = True
            await self._task
            self._task = None
