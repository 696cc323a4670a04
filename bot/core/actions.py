"""Button data that cannot be forged: `verb:arg…:signature`, short enough for Telegram (64 bytes)."""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_CHARS = 10
MAX_LENGTH = 64


class ActionSigner:
    """Signs and verifies button actions with a secret key shared by every process."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)  # copied per signature: the key is set up once

    def _signature(self, payload: str) -> str:
        mac = self._keyed.copy()
        mac.update(payload.encode())
        return base64.urlsafe_b64encode(mac.digest()).decode()[:SIGNATURE_CHARS]

    def sign(self, verb: str, *args: object) -> str:
        """Encode a verb and its arguments into signed button data."""
        parts = [verb, *(str(a) for a in args)]
        if any(":" in p for p in parts):
            raise ValueError("action parts must not contain ':'")
        payload = ":".join(parts)
        data = f"{payload}:{self._signature(payload)}"
        if len(data.encode()) > MAX_LENGTH:
            raise ValueError(f"action too long for a button: {payload}")
        return data

    def verify(self, data: str) -> tuple[str, list[str]] | None:
        """Return (verb, args) when the data is intact, else None."""
        payload, _, signature = data.rpartition(":")
        if not payload or not hmac.compare_digest(signature.encode(), self._signature(payload).encode()):
            return None
        verb, *args = payload.split(":")
        return verb, args
