"""Benchmark of the FAQ matcher: index build time, query latency and memory on synthetic
knowledge bases of 1k and 10k entries, then the figures on the shared FAQ benchmarks.

Run from the repository root: ``.venv/bin/python bench/kb.py`` (``--size N``: one synthetic size only).
"""

from __future__ import annotations

import argparse
import random
import resource
import string
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cli.progress import progress
from bot.config import load_config
from kb.entry import KBEntry
from kb.evaluation import evaluate, load_eval_dir, tune
from kb.matcher import Matcher

SIZES = (1_000, 10_000)
QUERIES = 2_000
SHARED_FAQ = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "faq"


def _items(text: str) -> tuple[str, ...]:
    """The '; '-separated items of ``text``."""
    return tuple(item.strip() for item in text.split(";"))


TOPICS = _items(
    "NDC update; greenhouse gas inventory; Biennial Transparency Report; "
    "Article 6.2 cooperative approach; carbon tax; emissions trading system; "
    "long-term low emission development strategy; adaptation plan; methane abatement; "
    "just transition plan; Green Climate Fund readiness grant; MRV system; "
    "energy efficiency standard; renewable energy auction; coal phase-out roadmap; "
    "REDD+ results payment; climate budget tagging; loss and damage fund; "
    "electric vehicle incentive; building code; land-use emissions baseline; "
    "fossil fuel subsidy reform; green bond framework; carbon market registry; "
    "sectoral mitigation target; IPCC emission factor; net-zero pathway model; "
    "climate finance report; heat action plan; blue carbon project; clean cooking programme; "
    "grid emission factor; agriculture mitigation measure; waste sector inventory; "
    "F-gas regulation; national adaptation plan"
)
ASPECTS = _items(
    "deadline; template; guidance; methodology; reporting format; review process; contact person; "
    "eligibility criteria; data requirements; quality control; timeline; budget; indicators; "
    "legal basis; stakeholder consultation; tracking tool; uncertainty analysis; training material"
)
PLACES = _items(
    "Kenya; Colombia; Viet Nam; Morocco; Chile; Indonesia; Ghana; Peru; Senegal; Mexico; Nepal; "
    "Tunisia; Costa Rica; Ethiopia; Philippines; Jordan; Uruguay; Rwanda; Fiji; Benin"
)
TEMPLATES = (
    "What is the {aspect} for the {topic} in {place}?",
    "Where can I find the {aspect} of the {topic} for {place}?",
    "Who handles the {aspect} of {place}'s {topic}?",
    "How do we prepare the {aspect} for the {topic} ({place}, {year})?",
)
PHRASINGS = (
    "{topic} {aspect} {place}",
    "need the {aspect} for {place} {topic} {year}",
    "{place}: {topic} - {aspect}?",
)
OOS = _items(
    "what is the weather tomorrow; book a table for two; how tall is mount everest; play some jazz; "
    "reset my phone; who won the football match; recipe for banana bread; "
    "translate hello into german"
)


def synthetic_kb(size: int, rng: random.Random) -> list[KBEntry]:
    """``size`` plausible help-desk entries (distinct by topic, aspect, place and year)."""
    entries = []
    for i in range(size):
        slots = {
            "topic": rng.choice(TOPICS),
            "aspect": rng.choice(ASPECTS),
            "place": rng.choice(PLACES),
            "year": str(rng.randint(2015, 2035)),
        }
        entries.append(
            KBEntry(
                id=f"e{i}",
                question=rng.choice(TEMPLATES).format(**slots),
                answer="See the guidance note.",
                queue=rng.choice(("mrv", "policy", "finance")),
                lang="en",
                phrasings=tuple(p.format(**slots) for p in rng.sample(PHRASINGS, 2)),
            )
        )
    return entries


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(len(word))
    return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]


def synthetic_queries(entries: list[KBEntry], count: int, rng: random.Random) -> list[str]:
    """Shuffled, trimmed and misspelled questions, with some off-topic ones."""
    queries = []
    for _ in range(count):
        if rng.random() < 0.2:
            queries.append(rng.choice(OOS))
            continue
        words = rng.choice(entries).question.split()
        rng.shuffle(words)
        kept = words[: max(3, len(words) - 2)]
        queries.append(" ".join(_typo(w, rng) if rng.random() < 0.15 else w for w in kept))
    return queries


def rss_mb() -> tuple[float, float]:
    """Current and peak resident memory of this process in MB."""
    with open("/proc/self/status") as status:
        current = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return current / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_synthetic(size: int) -> None:
    rng = random.Random(size)
    entries = synthetic_kb(size, rng)
    queries = synthetic_queries(entries, QUERIES, rng)
    start = time.perf_counter()
    matcher = Matcher(entries)
    build = time.perf_counter() - start
    for text in queries[:50]:  # warm up caches
        matcher.search(text, "en")
    latencies = []
    with progress(f"bench/kb {size} entries: queries") as report:
        for text in queries:
            start = time.perf_counter()
            matcher.search(text, "en")
            latencies.append((time.perf_counter() - start) * 1000)
            report(len(latencies), len(queries))
    current, peak = rss_mb()
    p50, p99 = np.percentile(latencies, [50, 99])
    print(
        f"synthetic {size:>6} entries: build {build:.2f} s, query p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"({len(queries)} queries), RSS {current:.0f} MB (peak {peak:.0f} MB)"
    )


def bench_shared() -> None:
    if not SHARED_FAQ.is_dir():
        print(f"skip: {SHARED_FAQ} not found, no benchmark figures")
        return
    shipped = load_config().matcher
    for folder in sorted(p for p in SHARED_FAQ.iterdir() if (p / "faq.jsonl").is_file()):
        data = load_eval_dir(folder)
        matcher = Matcher(data.entries)
        print(f"\n== {folder.name} ({len(data.entries)} entries, {len(data.queries)} test queries)")
        print("test queries at the shipped thresholds:")
        print(evaluate(matcher, data.queries, shipped.answer, shipped.margin, shipped.suggest).to_text())
        tuned = tune(matcher, data)
        print(tuned.to_text())
        print("test queries (queries.jsonl) at the tuned operating point:")
        print(evaluate(matcher, data.queries, tuned.answer_threshold, tuned.margin).to_text())


def main() -> None:
    """Each KB size runs in a fresh process, so that its RSS figures are its own."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, help="one synthetic KB of this many entries only (no shared sets)")
    args = parser.parse_args()
    if args.size is not None:
        bench_synthetic(args.size)
        return
    for size in SIZES:
        subprocess.run([sys.executable, __file__, "--size", str(size)], check=True)
    bench_shared()


if __name__ == "__main__":
    main()
