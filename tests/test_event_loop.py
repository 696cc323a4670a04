"""Entry points run on uvloop where it is installed (it is a dependency on every platform but Windows)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot import event_loop


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not run on Windows")
def test_the_help_desk_runs_on_uvloop() -> None:
    assert event_loop.run(_loop_module()).startswith("uvloop")
