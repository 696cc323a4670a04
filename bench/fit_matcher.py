"""Fit the matcher's ranker and its confidence (``kb/model.json``), and print held-out figures.

Collects every candidate's features on the *fit* parts (clinc150's dev queries, the even lines of
xquad-es-en and of kb/eval) and on near-miss variants of them (the KB cut to half its topics; for
the bot's own KB also each question against the KB without its own topic), fits a softmax ranker
on the full-KB parts and a logistic confidence on all parts (each weighing the same), then prints
precision / coverage / share of out-of-scope questions answered on the *held-out* parts (clinc150's
test queries, the odd lines, and their variants) at several thresholds.

    .venv/bin/python bench/fit_matcher.py            # figures only
    .venv/bin/python bench/fit_matcher.py --write    # and store kb/model.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.entry import KBEntry
from kb.evaluation import EvalQuery, load_eval_dir
from kb.files import load_kb_dir
from kb.language import detect_language
from kb.matcher import FEATURES, LIST_FEATURES, MODEL_FILE, Matcher, best_per_topic, list_features

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "benchmarks" / "faq"
MODEL = ROOT / "kb" / MODEL_FILE


@dataclass
class Sample:
    name: str
    feats: np.ndarray  # candidates x features
    labels: np.ndarray  # bool per candidate
    topics: np.ndarray  # topic number per candidate
    in_scope: bool


def _half(key: str) -> bool:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 2 == 0


def collect(name: str, entries: list[KBEntry], queries: list[EvalQuery]) -> list[Sample]:
    matcher = Matcher(entries)
    topic_of = {t: i for i, t in enumerate(dict.fromkeys(e.topic_key for e in entries))}
    out = []
    for q in queries:
        found, feats = matcher.candidate_features(q.text, q.lang or detect_language(q.text))
        if not found:
            continue
        labels = np.array([e.id in q.relevant for e in found], dtype=bool)
        topics = np.array([topic_of[e.topic_key] for e in found])
        out.append(Sample(name, feats, labels, topics, bool(q.relevant)))
    return out


def variants(name: str, entries: list[KBEntry], queries: list[EvalQuery]) -> dict[str, list[Sample]]:
    """The full KB and the half KB (the other half's queries become near-miss out of scope)."""
    kept = [e for e in entries if _half(e.topic_key)]
    ids = {e.id for e in kept}
    moved = [EvalQuery(q.id, q.text, q.lang, tuple(r for r in q.relevant if r in ids)) for q in queries]
    return {f"{name}": collect(name, entries, queries), f"{name}/half": collect(name + "/half", kept, moved)}


def without_gold(name: str, entries: list[KBEntry], queries: list[EvalQuery]) -> dict[str, list[Sample]]:
    """Each in-scope query against the KB without its own topic(s): near misses of one's own domain."""
    topic = {e.id: e.topic_key for e in entries}
    groups: dict[frozenset[str], list[EvalQuery]] = {}
    for q in queries:
        if q.relevant:
            groups.setdefault(frozenset(topic[r] for r in q.relevant), []).append(q)
    out: list[Sample] = []
    for gone, group in groups.items():
        kept = [e for e in entries if e.topic_key not in gone]
        out += collect(name, kept, [EvalQuery(q.id, q.text, q.lang, ()) for q in group])
    return {f"{name}/without-gold": out}


def load_sets() -> tuple[dict[str, list[Sample]], dict[str, list[Sample]]]:
    fit: dict[str, list[Sample]] = {}
    held: dict[str, list[Sample]] = {}
    clinc = load_eval_dir(SHARED / "clinc150")
    fit |= variants("clinc-dev", list(clinc.entries), list(clinc.dev_queries))
    held |= variants("clinc-test", list(clinc.entries), list(clinc.queries))
    xquad = load_eval_dir(SHARED / "xquad-es-en")
    qs = list(xquad.queries)
    fit |= variants("xquad-even", list(xquad.entries), qs[0::2])
    held |= variants("xquad-odd", list(xquad.entries), qs[1::2])
    own_entries = load_kb_dir(ROOT / "kb" / "content").entries
    own = load_eval_dir(ROOT / "kb" / "eval", own_entries)
    oq = list(own.queries)
    fit |= variants("own-even", own_entries, oq[0::2])
    fit |= without_gold("own-even", own_entries, oq[0::2])
    held |= variants("own-odd", own_entries, oq[1::2])
    held |= without_gold("own-odd", own_entries, oq[1::2])
    return fit, held


def newton_logistic(x: np.ndarray, y: np.ndarray, w8: np.ndarray, l2: float = 1.0, iters: int = 30) -> np.ndarray:
    xb = np.hstack([x, np.ones((len(x), 1))])
    beta = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 1e-6
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(xb @ beta, -30, 30)))
        g = xb.T @ (w8 * (p - y)) + reg * beta
        h = (xb * (w8 * p * (1 - p))[:, None]).T @ xb + np.diag(reg)
        step = np.linalg.solve(h, g)
        beta -= step
        if np.abs(step).max() < 1e-6:
            break
    return beta


def _softmax_loss(groups: list[Sample], w: np.ndarray, l2: float) -> tuple[float, np.ndarray, np.ndarray]:
    d = len(w)
    loss, g, h = 0.5 * l2 * float(w @ w), l2 * w, l2 * np.eye(d)
    for s in groups:
        z = s.feats @ w
        z = z - z.max()
        p = np.exp(z)
        total = p.sum()
        p /= total
        t = s.labels / s.labels.sum()
        loss -= float(t @ (z - np.log(total)))
        g = g + s.feats.T @ (p - t)
        mean = p @ s.feats
        h += (s.feats * p[:, None]).T @ s.feats - np.outer(mean, mean)
    return loss, g, h


def fit_ranker(samples: list[Sample], l2: float = 1.0, iters: int = 50) -> np.ndarray:
    """Softmax over each query's candidates (queries with a relevant candidate); damped Newton."""
    groups = [s for s in samples if s.labels.any()]
    w = np.zeros(groups[0].feats.shape[1])
    loss, g, h = _softmax_loss(groups, w, l2)
    for _ in range(iters):
        step = np.linalg.solve(h, g)
        rate = 1.0
        while rate > 1e-4:
            trial = w - rate * step
            new_loss, new_g, new_h = _softmax_loss(groups, trial, l2)
            if new_loss <= loss - 1e-4 * rate * float(g @ step):
                break
            rate /= 2
        if loss - new_loss < 1e-7 * max(1.0, abs(loss)):
            w = trial
            break
        w, loss, g, h = trial, new_loss, new_g, new_h
    return w


def list_rows(samples: list[Sample], w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The confidence's features of each sample, whether its best candidate is right, whether in scope."""
    rows, right = [], []
    for s in samples:
        z = s.feats @ w
        order = best_per_topic(z, s.topics)
        rows.append(list_features(z[order], s.feats[order[0]]))
        right.append(bool(s.labels[order[0]]))
    return np.array(rows), np.array(right), np.array([s.in_scope for s in samples])


def fit_confidence(parts: dict[str, list[Sample]], w: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic confidence that the best candidate is right; each part weighs the same."""
    data = [list_rows(v, w) for v in parts.values()]
    x = np.vstack([d[0] for d in data])
    y = np.concatenate([d[1] for d in data]).astype(float)
    weights = np.concatenate([np.full(len(d[1]), 1000 / len(d[1])) for d in data])
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    beta = newton_logistic((x - mu) / sd, y, weights)
    return beta[:-1] / sd, float(beta[-1] - (beta[:-1] * mu / sd).sum())


def confidences(samples: list[Sample], w: np.ndarray, cal: np.ndarray, bias: float) -> tuple[np.ndarray, ...]:
    x, right, in_scope = list_rows(samples, w)
    return 1 / (1 + np.exp(-(x @ cal + bias))), right, in_scope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"store the fitted model in kb/{MODEL_FILE}")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skip: {SHARED} not found: the shared FAQ sets are needed to fit the model")
        return
    start = time.time()
    fit, held = load_sets()
    print(f"features of {sum(map(len, fit.values())) + sum(map(len, held.values()))} queries in "
          f"{time.time() - start:.0f} s", file=sys.stderr)
    w = fit_ranker([s for k, v in fit.items() if "/half" not in k for s in v])
    cal, bias = fit_confidence(fit, w)
    print("held-out parts, P@1 of the ranker: " + ", ".join(
        f"{name} {np.mean([s.labels[best_per_topic(s.feats @ w, s.topics)[0]] for s in samples if s.in_scope]):.3f}"
        for name, samples in held.items() if any(s.in_scope for s in samples)))
    print("held-out parts (precision / coverage / share of out-of-scope queries answered):")
    for t in (0.6, 0.7, 0.75, 0.8, 0.85):
        cells = []
        for name, samples in held.items():
            conf, right, in_scope = confidences(samples, w, cal, bias)
            answered = conf >= t
            precision = (answered & right).sum() / max(answered.sum(), 1)
            cells.append(f"{name} {precision:.3f}/{answered.mean():.3f}/{answered[~in_scope].mean():.3f}")
        print(f"  {t:.2f}  " + " | ".join(cells))
    if args.write:
        model = {
            "fitted": "bench/fit_matcher.py: ranker on clinc150 dev, even xquad-es-en and even kb/eval queries; "
                      "confidence on the same and their half-KB near-miss variants",
            "ranker": dict(zip(FEATURES, np.round(w, 6).tolist(), strict=True)),
            "confidence": {"bias": round(bias, 6),
                           "weights": dict(zip(LIST_FEATURES, np.round(cal, 6).tolist(), strict=True))},
        }
        MODEL.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MODEL}")


if __name__ == "__main__":
    main()
