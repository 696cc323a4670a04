"""python-telegram-bot's transport on aiohttp.

PTB's default transport (httpx) measured about 1.8 ms of CPU per Bot API call here, this one about
0.2 ms (bench/channels.py, docs/channels.md): the difference decides whether one process keeps up
with hundreds of messages a second.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData


def _seconds(value: object, default: float | None) -> float | None:
    """A PTB timeout argument: its default marker means ours; None means no limit."""
    if value is BaseRequest.DEFAULT_NONE or not isinstance(value, int | float | type(None)):
        return default
    return None if value is None else float(value)


class AiohttpRequest(BaseRequest):
    """Bot API requests over one pooled aiohttp session."""

    def __init__(self, pool_size: int = 64, read_timeout: float = 5.0, connect_timeout: float = 5.0,
                 media_timeout: float = 20.0) -> None:
        self._pool_size = pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._media_timeout = media_timeout
        self._session: aiohttp.ClientSession | None = None

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """Telegram's JSON answer; a body that is not JSON (an HTML 502 page of a proxy) raises TelegramError
        without PTB's logged traceback: the error that follows (NetworkError for a 5xx) says what happened."""
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise TelegramError("Invalid server response") from None
        if not isinstance(data, dict):
            raise TelegramError("Invalid server response")
        return data

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds the long-poll time to it for getUpdates)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._pool_size),
                                                  headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; PTB turns the status and body into results or errors."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        data: aiohttp.FormData | bytes | None = None
        headers = None
        read = _seconds(read_timeout, self._read_timeout)
        if request_data is not None and request_data.contains_files:
            # file names in UTF-8 as browsers send them (RFC 7578), not percent-encoded: Telegram shows them as sent
            form = aiohttp.FormData(request_data.json_parameters, quote_fields=False)
            for name, (filename, content, mime) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mime)
            data, read = form, max(read or 0.0, self._media_timeout)
        elif request_data is not None:  # one JSON body: cheaper than form-encoding every parameter
            data, headers = request_data.json_payload, {"Content-Type": "application/json"}
        timeout = aiohttp.ClientTimeout(sock_connect=_seconds(connect_timeout, self._connect_timeout),
                                        sock_read=read)
        try:
            async with self._session.request(method, url, data=data, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
