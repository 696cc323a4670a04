"""The serving process freezes what start-up loaded and collects young objects less often."""

from __future__ import annotations

import gc

from bot.memory import YOUNG_THRESHOLD, tune_gc


def test_tune_gc_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
