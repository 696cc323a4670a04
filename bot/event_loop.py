"""The event loop the help desk runs on: uvloop where it is installed (not on Windows), else asyncio's own.

uvloop moves the loop and its socket transports to C: measured on the benchmarks, 5–15% more messages
and ticket actions per second and a lower p99 (docs/performance.md). Every entry point (the CLI, the
benchmarks) starts its loop here, so what is measured is what runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion on a new event loop (uvloop's when available)."""
    try:
        import uvloop
    except ImportError:  # Windows, or a platform without a wheel
        return asyncio.run(coro)
    return uvloop.run(coro)
