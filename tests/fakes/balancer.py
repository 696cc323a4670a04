"""A round-robin HTTP load balancer in front of several `helpdesk run` replicas (tests and benchmarks).

Telegram and Slack know one webhook / request URL; with several replicas a load balancer spreads the
requests. This one behaves like nginx with `proxy_next_upstream error`: each request goes to the
next backend; a backend that refuses the connection is skipped (nothing was sent to it), one that
fails after the request was sent gets the client a 502 (a POST is not replayed), so the platform
retries — and the retry goes to the next backend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import aiohttp
from aiohttp import web

from tests.fakes.served import ServedFake

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "host", "content-length"})


class Balancer(ServedFake):
    """Forwards every request to the next of `backends` (base URLs such as 'http://127.0.0.1:8081')."""

    def __init__(self, backends: Sequence[str]) -> None:
        if not backends:
            raise ValueError("at least one backend")
        self.backends = [b.rstrip("/") for b in backends]
        self.served: Counter[str] = Counter()  # requests answered, per backend
        self.refused: Counter[str] = Counter()  # connections refused, per backend (skipped)
        self._turn = 0
        self._session: aiohttp.ClientSession | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; return the base URL the platforms are given."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return await self._serve(app, host, port)

    async def stop(self) -> None:
        """Stop listening and close the connections to the backends."""
        await self._shut_down()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        for _ in range(len(self.backends)):
            backend = self.backends[self._turn % len(self.backends)]
            self._turn += 1
            try:
                async with self._session.request(request.method, backend + request.rel_url.raw_path_qs,
                                                 data=body, headers=headers) as answer:
                    payload = await answer.read()
                    self.served[backend] += 1
                    kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
                    return web.Response(status=answer.status, body=payload, headers=kept)
            except aiohttp.ClientConnectorError:
                self.refused[backend] += 1  # nothing reached it: try the next one
            except (aiohttp.ClientError, TimeoutError) as exc:
                return web.Response(status=502, text=f"bad gateway: {type(exc).__name__}")
        return web.Response(status=502, text="bad gateway: no backend answers")
