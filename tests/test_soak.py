"""The short soak: 2,000 messages through the fake Telegram into `helpdesk run`, one kill -9, one 429 storm."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "soak.py"
pytestmark = pytest.mark.timeout(240)


async def test_short_soak_loses_nothing() -> None:
    spec = importlib.util.spec_from_file_location("soak", BENCH)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    figures = await soak.soak(n=2000, users=400, kills=1, storms=1, outages=0, db="sqlite", rate=400,
                              lease=3.0, settle_timeout=150.0, errors_in_storm=10,
                              throttled_in_storm=100)
    print(figures)
    assert figures["stored"] == 2000
    assert figures["lost"] == 0
    assert figures["out_of_order"] == 0  # every chat's replies in the order written, across the kill
    # A kill -9 can land between Telegram accepting a reply and the commit that marks it sent (the rows delivered
    # in the last moments); Telegram offers no way to ask whether it arrived, so such a row
    # is sent again rather than risk losing it. See docs/reliability.md.
    # Measured 0-6 on a quiet machine, 15 with another CPU-heavy job beside it: the window grows with load.
    assert figures["duplicated"] <= 0.02 * figures["messages_sent"]
