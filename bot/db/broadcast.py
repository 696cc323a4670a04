"""Messages between the replicas on one PostgreSQL database: NOTIFY to send, one LISTEN connection to receive.

Best effort by design: what a replica misses while it is not listening must be recoverable from the
database (its handler is told when it listens again, to catch up).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)
MAX_PAYLOAD = 8000  # bytes: PostgreSQL refuses a notification payload this long or longer
MAX_CHANNEL = 63  # bytes of an identifier
RETRY_FIRST, RETRY_MAX = 0.2, 30.0  # seconds before listening again after a loss: doubling, capped
PING = 30.0  # seconds between checks that a quiet LISTEN connection is still alive
TIMEOUT = 5.0  # seconds a ping, a notification or the first LISTEN at start may take
Handler = Callable[[dict[str, Any]], Awaitable[None]]


def channel_name(base: str, schema: str | None) -> str:
    """The channel of one schema (replicas share it; other schemas of the database, e.g. tests', do not)."""
    if not schema:
        return base
    name = f"{base}_{schema}"
    return name if len(name.encode()) <= MAX_CHANNEL else f"{base}_{hashlib.sha256(schema.encode()).hexdigest()[:24]}"


class Broadcast:
    """JSON messages to the other replicas on a channel; each replica hears the others', never its own."""

    def __init__(self, engine: AsyncEngine, channel: str, on_message: Handler,
                 on_resumed: Callable[[], None]) -> None:
        self.replica = secrets.token_hex(8)  # this process's id in what it sends
        self.channel = channel
        self.listening = asyncio.Event()  # set while the LISTEN connection is up
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._on_message = on_message
        self._on_resumed = on_resumed
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._listened = False
        self._send_failing = False

    @classmethod
    async def open(cls, engine: AsyncEngine, base: str, on_message: Handler,
                   on_resumed: Callable[[], None]) -> Broadcast:
        """Listen on `base`'s channel for the engine's schema; waits (briefly) for the first LISTEN.

        `on_message` gets the other replicas' messages one at a time, in order; `on_resumed` is called
        when listening resumes after a loss (messages may have been missed meanwhile).
        """
        async with engine.connect() as conn:
            schema = (await conn.execute(text("SELECT current_schema()"))).scalar()
        broadcast = cls(engine, channel_name(base, schema), on_message, on_resumed)
        broadcast._tasks = [asyncio.create_task(broadcast._listen_forever(), name=f"listen-{broadcast.channel}"),
                            asyncio.create_task(broadcast._dispatch(), name=f"dispatch-{broadcast.channel}")]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(broadcast.listening.wait(), TIMEOUT)
        return broadcast

    async def close(self) -> None:
        """Stop listening."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.listening.clear()

    async def send(self, message: dict[str, Any], fallback: dict[str, Any]) -> None:
        """Notify the other replicas of `message`, or of `fallback` when `message` is too long for PostgreSQL.

        Never raises: a failure is logged (once until sending works again) and the message is lost.
        """
        payload = self._payload(message)
        if len(payload.encode()) >= MAX_PAYLOAD:
            payload = self._payload(fallback)
        try:
            async with asyncio.timeout(TIMEOUT), self._autocommit.connect() as conn:
                await conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                                   {"channel": self.channel, "payload": payload})
        except (TimeoutError, OSError, SQLAlchemyError) as exc:
            if not self._send_failing:
                log.warning("cannot notify the other replicas on %s (%s); retrying with the next message",
                            self.channel, exc)
            self._send_failing = True
            return
        if self._send_failing:
            log.info("notifying the other replicas on %s again", self.channel)
        self._send_failing = False

    def _payload(self, message: dict[str, Any]) -> str:
        return json.dumps({"replica": self.replica, **message}, ensure_ascii=False, separators=(",", ":"))

    async def _listen_forever(self) -> None:
        """Keep one LISTEN connection; after a loss connect again (doubling waits, one warning per outage)."""
        failures = 0
        while True:
            try:
                await self._listen_until_lost()
            except Exception as exc:  # any failure means: connect again
                if self.listening.is_set():  # it was working: a new outage
                    failures = 0
                self.listening.clear()
                if failures == 0:
                    log.warning("stopped listening to the other replicas on %s (%s); reconnecting",
                                self.channel, str(exc) or type(exc).__name__)
            await asyncio.sleep(min(RETRY_MAX, RETRY_FIRST * 2 ** failures))
            failures += 1

    async def _listen_until_lost(self) -> None:
        """LISTEN on a connection of the engine's own (outside its pool) until it breaks; always raises."""
        conn = await self._engine.connect()
        raw: Any = None
        try:
            raw = (await conn.get_raw_connection()).driver_connection  # asyncpg's connection
            assert conn.sync_connection is not None
            conn.sync_connection.detach()  # held for the process's life: not a pool slot
            lost = asyncio.Event()
            raw.add_termination_listener(lambda _conn: lost.set())
            await raw.add_listener(self.channel, self._heard)
            if self._listened:
                log.info("listening to the other replicas on %s again", self.channel)
                self._on_resumed()
            self._listened = True
            self.listening.set()
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), PING)
                if lost.is_set():
                    raise ConnectionError("the server closed the connection")
                await asyncio.wait_for(raw.fetchval("SELECT 1"), TIMEOUT)  # a half-open connection fails here
        finally:
            if raw is not None:
                raw.terminate()
            with contextlib.suppress(Exception):
                await conn.close()

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("ignored a notification on %s that is not JSON", self.channel)
            return
        if isinstance(message, dict) and message.get("replica") != self.replica:
            self._inbox.put_nowait(message)

    async def _dispatch(self) -> None:
        """Hand the other replicas' messages to the handler, one at a time, in the order they came."""
        while True:
            message = await self._inbox.get()
            try:
                await self._on_message(message)
            except Exception as exc:
                log.warning("could not pass on a notification from another replica on %s: %s", self.channel, exc)
