"""Hybrid FAQ matcher: BM25 candidate retrieval, rapidfuzz features, a ranker and one calibrated confidence.

Each entry contributes its question and phrasings ("strings"). Three BM25 indexes
(bm25s) retrieve candidates: stemmed words with one document per entry (pools the
evidence of all phrasings), stemmed words per string, and character 3-grams of
accent-stripped words per string (typos, and names, numbers and cognates across
languages). For each candidate entry, its best strings are compared with the query by
rapidfuzz. A linear ranker (a softmax over the candidates) orders them, translations of one
topic counting once; a logistic model reads the whole list and gives the probability that the
best entry answers the query. Both are fitted by ``bench/fit_matcher.py`` (``kb/model.json``).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from itertools import pairwise
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from kb.entry import KBEntry
from kb.language import detect_language
from kb.normalize import content_words, fold, stem

MAX_QUERY_WORDS = 64  # longer queries are cut: a question is never that long
GRAM = 3
GRAMMED_WORDS = 20_000  # words whose n-grams are remembered (most questions reuse the KB's words)
SOFT_MIN = 0.7  # word similarity under which a word does not count as matched
CANDIDATES = 30  # per retrieval index
STRINGS_PER_ENTRY = 3  # best strings of a candidate entry that get fuzzy-compared

VOTERS = 10  # best-matching strings (by word BM25) that vote for their entry
MODEL_FILE = "model.json"  # fitted weights, beside this module (`bench/fit_matcher.py --write` refits them)

# One feature row per candidate entry (`Matcher._features`). "_lead": the value minus the best
# other candidate's; "x_": the value when query and entry languages differ, else 0; "m_": the value
# times max(entry_cover, gram_cover, soft_cover), so that relative evidence counts only with some
# absolute match.
FEATURES = (
    "entry_bm25_rel",  # word BM25 of the entry document / best entry's
    "gram_bm25_rel",  # best char-3-gram BM25 of its strings / best entry's
    "token_set",  # rapidfuzz token_set_ratio of stemmed words, best string
    "ratio",  # rapidfuzz ratio of accent-stripped words, best string
    "query_cover",  # IDF share of query words found in the best string
    "string_cover",  # IDF share of the best string's words found in the query
    "votes",  # share of the top VOTERS strings (word BM25) that belong to the entry
    "entry_cover",  # IDF share of query words found in any string of the entry
    "gram_cover",  # share of the query's char 3-grams found in the best string
    "known",  # share of query words that occur anywhere in the KB
    "inv_length",  # 1 / number of query words
    "soft_cover",  # length-weighted share of query words with a similar word (cognate, typo) in the best string
    "token_set_lead", "ratio_lead", "query_cover_lead", "votes_lead",
    "x_cross_lingual", "x_token_set", "x_ratio", "x_gram_cover", "x_ratio_lead", "x_soft_cover",
    "m_entry_bm25_rel", "m_gram_bm25_rel", "m_token_set_lead", "m_ratio_lead", "m_votes_lead",
    "naive_bayes",  # multinomial naive-Bayes log-likelihood of the query words per word, minus the best candidate's
    "word_ownership",  # IDF-weighted share of each query word's occurrences in the KB that are the entry's
    "naive_bayes_all",  # the same over every word (stop words too) and pair of neighbouring words
    "naive_bayes_lead", "word_ownership_lead", "naive_bayes_all_lead",
    "x_query_lang_share",  # when the languages differ: the share of KB entries in the query's language
)
# What the confidence sees of a candidate list: the ranker's logit of the best candidate, its lead
# over the second, its softmax share, the entropy of the softmax, the number of candidates (/30),
# then the best candidate's own features.
LIST_FEATURES = ("top_logit", "logit_lead", "top_share", "entropy", "candidates", *(f"top_{f}" for f in FEATURES))


@cache
def _model() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """The fitted model, read once (when the first question is matched)."""
    return parse_model(json.loads(resources.files("kb").joinpath(MODEL_FILE).read_text(encoding="utf-8")))


def parse_model(model: dict[str, Any]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """The ranker's weights (one per feature), the confidence's weights (one per list feature) and its bias."""
    ranker, confidence = model["ranker"], model["confidence"]
    if set(ranker) != set(FEATURES) or set(confidence["weights"]) != set(LIST_FEATURES):
        raise ValueError(f"kb/{MODEL_FILE} does not match the matcher's features: refit with bench/fit_matcher.py")
    return (np.array([ranker[f] for f in FEATURES]), np.array([confidence["weights"][f] for f in LIST_FEATURES]),
            float(confidence["bias"]))


def _columns(*names: str) -> list[int]:
    return [FEATURES.index(name) for name in names]


_LEAD_COLUMNS = _columns("token_set", "ratio", "query_cover", "votes")
_CROSS_COLUMNS = _columns("token_set", "ratio", "gram_cover", "ratio_lead", "soft_cover")
_MATCH_COLUMNS = _columns("entry_cover", "gram_cover", "soft_cover")
_MATCHED_COLUMNS = _columns("entry_bm25_rel", "gram_bm25_rel", "token_set_lead", "ratio_lead", "votes_lead")

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Candidate:
    """One FAQ entry proposed for a query."""

    entry_id: str
    score: float  # calibrated 0..1, comparable across queries
    lang: str
    queue: str
    matched_text: str  # the question or phrasing that matched best


@dataclass(frozen=True)
class _Text:
    """A text analysed once: stemmed words, their joined form, and its plain words."""

    words: tuple[str, ...]
    joined: str
    folded: str
    phrase: tuple[str, ...]  # every folded word, stop words too, and each pair of neighbours ("did_i")

    @classmethod
    def of(cls, text: str, lang: str, max_words: int | None = None) -> _Text:
        """Analyse ``text`` as written in ``lang``."""
        plain = content_words(text, lang)[:max_words]
        words = tuple(stem(w, lang) for w in plain)
        every = [stem(w, lang) for w in fold(text).split()[:max_words]]
        return cls(words, " ".join(words), " ".join(plain),
                   (*every, *(f"{a}_{b}" for a, b in pairwise(every))))

    def grams(self) -> list[str]:
        """Character n-grams of the plain (accent-stripped, unstemmed) words."""
        return [gram for word in self.folded.split() for gram in _word_grams(word)]


@lru_cache(maxsize=GRAMMED_WORDS)
def _word_grams(word: str) -> tuple[str, ...]:
    """Character n-grams of a word padded with spaces (a short word stays whole).

    Interned: a large KB repeats the same few thousand n-grams many times.
    """
    padded = f" {word} "
    if len(padded) <= GRAM:
        return (sys.intern(padded),)
    return tuple(sys.intern(padded[i : i + GRAM]) for i in range(len(padded) - GRAM + 1))


def _bm25(docs: list[list[str]]) -> bm25s.BM25 | None:
    """A bm25s index over pre-tokenised documents (None when they have no terms at all)."""
    if not any(docs):
        return None
    index = bm25s.BM25()
    index.index(docs, show_progress=False)
    return index


def _slices(bounds: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """The positions of the slices ``bounds[r]:bounds[r + 1]`` of the ``rows``, one slice after the other,
    and the length of each slice."""
    starts = bounds[rows]
    lengths = bounds[rows + 1] - starts
    return np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum())), lengths


def _packed(lists: Sequence[Sequence[int]], dtype: type[np.integer[Any]] = np.int64) -> tuple[IntArray, IntArray]:
    """Lists of ids as one array, and the bounds of each list in it (list i: ``ids[bounds[i]:bounds[i + 1]]``)."""
    ids = np.array([i for items in lists for i in items], dtype=dtype)
    return ids, np.array([0, *np.cumsum([len(items) for items in lists])], dtype=np.int64)


def _term_ids(index: bm25s.BM25 | None, terms: Sequence[str]) -> list[int]:
    """The index's ids of the terms it knows (repeated terms repeated)."""
    return list(index.get_tokens_ids(list(terms))) if index else []


def _scores(index: bm25s.BM25 | None, ids: list[int], size: int) -> FloatArray:
    """BM25 scores of every document for the query's term ``ids`` (zeros when none is known)."""
    if index is None or not ids:
        return np.zeros(size, dtype=np.float32)
    return np.asarray(index.get_scores_from_ids(ids), dtype=np.float32)


def _distinct(ids: IntArray, size: int) -> tuple[IntArray, IntArray]:
    """The distinct values of ``ids`` (all in ``0 .. size - 1``) in ascending order, and each id's position
    among them: ``np.unique(ids, return_inverse=True)`` without sorting the ids."""
    present = np.zeros(size, dtype=bool)
    present[ids] = True
    distinct = np.flatnonzero(present)
    return distinct, np.searchsorted(distinct, ids)


def _starts_of_runs(values: IntArray) -> npt.NDArray[np.bool_]:
    """True where a run of equal values begins."""
    first = np.ones(len(values), dtype=bool)
    first[1:] = values[1:] != values[:-1]
    return first


def _top(scores: FloatArray, k: int) -> IntArray:
    """Indices of the ``k`` highest positive scores (in no particular order)."""
    k = min(k, len(scores))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.argpartition(-scores, k - 1)[:k]
    return idx[scores[idx] > 0]


def best_per_topic(logits: npt.NDArray[np.float64], topics: IntArray) -> IntArray:
    """Candidate positions by logit, best first, keeping the best entry of each topic (translations of one
    answer are one candidate: the bot answers in the asker's language anyway)."""
    order = np.argsort(-logits, kind="stable")
    _, first = np.unique(topics[order], return_index=True)
    return order[np.sort(first)]


def _in_language(best: IntArray, topics: IntArray, same_lang: npt.NDArray[np.bool_]) -> IntArray:
    """For each topic's best candidate, the topic's candidate in the query's language when there is one."""
    pick = best.copy()
    for i, j in enumerate(best.tolist()):
        if not same_lang[j]:
            siblings = np.flatnonzero((topics == topics[j]) & same_lang)
            if len(siblings):
                pick[i] = siblings[0]
    return pick


def list_features(ranked_logits: npt.NDArray[np.float64], top: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The confidence's view of a candidate list (``LIST_FEATURES``): the ranker's logits best first,
    and the best candidate's feature row."""
    shares = np.exp(ranked_logits - ranked_logits[0])
    shares /= shares.sum()
    lead = ranked_logits[0] - ranked_logits[1] if len(ranked_logits) > 1 else 10.0
    entropy = -float(shares @ np.log(shares + 1e-12))
    return np.concatenate([[ranked_logits[0], lead, shares[0], entropy, min(len(ranked_logits), 30) / 30], top])


class Matcher:
    """Finds the FAQ entries that best answer a free-text question."""

    def __init__(self, entries: Sequence[KBEntry]) -> None:
        self._entries = tuple(entries)
        self._texts: list[_Text] = []  # every distinct question or phrasing ("string")
        self._raw: list[str] = []  # the same strings as written
        owners: list[int] = []
        starts: list[int] = []
        for i, entry in enumerate(self._entries):
            starts.append(len(self._texts))
            for raw in dict.fromkeys((entry.question, *entry.phrasings)):
                self._texts.append(_Text.of(raw, entry.lang))
                self._raw.append(raw)
                owners.append(i)
        self._starts = np.array([*starts, len(self._texts)], dtype=np.int64)  # entry -> its strings
        self._langs = np.array([e.lang for e in self._entries])
        topic_ids: dict[str, int] = {}
        self._topics = np.array([topic_ids.setdefault(e.topic_key, len(topic_ids)) for e in self._entries],
                                dtype=np.int64)
        self._lang_share = {lang: float(np.mean(self._langs == lang)) for lang in set(self._langs.tolist())}
        self._owner = np.array(owners, dtype=np.int64)  # string -> its entry
        self._sizes = np.diff(self._starts)[self._owner]  # string -> number of strings of its entry
        entry_docs: list[list[str]] = [[] for _ in self._entries]
        for owner, text in zip(owners, self._texts, strict=True):
            entry_docs[owner].extend(text.words)
        self._entry_words = _bm25(entry_docs)
        self._string_words = _bm25([list(t.words) for t in self._texts])
        grams = [t.grams() for t in self._texts]
        self._string_grams = _bm25(grams)
        # The distinct n-grams of every string as ids of the n-gram index (string s: _gram_members[_gram_starts[s]:…]).
        self._gram_vocabulary = self._string_grams.vocab_dict if self._string_grams else {}
        self._gram_members, self._gram_starts = _packed(
            [sorted({self._gram_vocabulary[g] for g in string_grams}) for string_grams in grams], np.int32)
        self._idf = self._word_idf()
        # Per string, computed once rather than for every query:
        self._joined = [t.joined for t in self._texts]
        self._folded = [t.folded for t in self._texts]
        # The plain words of every string as ids into one vocabulary (string s: _word_ids[_word_starts[s]:…]).
        words = [t.folded.split() for t in self._texts]
        self._plain_words = list(dict.fromkeys(w for ws in words for w in ws))
        position = {w: i for i, w in enumerate(self._plain_words)}
        self._word_ids, self._word_starts = _packed([[position[w] for w in ws] for ws in words])
        self._string_totals = np.array([sum(self._idf[w] for w in t.words) for t in self._texts])
        self._in_strings = _postings([t.words for t in self._texts])  # word -> strings, times it occurs
        self._in_entries = _postings([set(doc) for doc in entry_docs])  # word -> entries that have it
        self._entry_counts = _postings(entry_docs)  # word -> entries that have it, times it occurs
        self._entry_lengths = np.array([len(doc) for doc in entry_docs], dtype=np.float64)
        self._word_totals = {w: float(c.sum()) for w, (_, c) in self._entry_counts.items()}
        phrase_docs: list[list[str]] = [[] for _ in self._entries]
        for owner, text in zip(owners, self._texts, strict=True):
            phrase_docs[owner].extend(text.phrase)
        self._phrase_counts = _postings(phrase_docs)
        self._phrase_lengths = np.array([len(doc) for doc in phrase_docs], dtype=np.float64)

    def __len__(self) -> int:
        return len(self._entries)

    def _word_idf(self) -> dict[str, float]:
        """Inverse string frequency of each stemmed word."""
        df: dict[str, int] = {}
        for text in self._texts:
            for word in set(text.words):
                df[word] = df.get(word, 0) + 1
        n = len(self._texts)
        return {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}

    def search(self, text: str, lang: str | None = None, k: int = 5) -> list[Candidate]:
        """Up to ``k`` entries for ``text``, best first.

        The best candidate's score is the calibrated confidence that it answers the question; the
        others' scale it by their softmax share relative to the best, so every score reads on one scale.
        """
        if k <= 0 or not self._entries or not text.strip():
            return []
        query_lang = lang or detect_language(text)
        query = _Text.of(text, query_lang, MAX_QUERY_WORDS)
        if not query.words:
            return []
        entries, strings, features = self._features(query, query_lang)
        if not len(entries):
            return []
        ranker, weights, bias = _model()
        logits = features @ ranker
        topics = self._topics[entries]
        order = best_per_topic(logits, topics)
        confidence = _sigmoid(float(list_features(logits[order], features[order[0]]) @ weights + bias))
        shares = np.exp(logits[order[:k]] - logits[order[0]])
        shown = _in_language(order[:k], topics, self._langs[entries] == query_lang)
        return [self._candidate(int(entries[j]), int(strings[j]), confidence * float(share))
                for j, share in zip(shown.tolist(), shares.tolist(), strict=True)]

    def candidate_features(self, text: str, lang: str) -> tuple[list[KBEntry], npt.NDArray[np.float64]]:
        """The candidate entries for ``text`` and their feature rows (``FEATURES``), for fitting the model."""
        query = _Text.of(text, lang, MAX_QUERY_WORDS)
        if not query.words:
            return [], np.zeros((0, len(FEATURES)))
        entries, _, features = self._features(query, lang)
        return [self._entries[i] for i in entries.tolist()], features

    def _features(self, query: _Text, query_lang: str) -> tuple[IntArray, IntArray, npt.NDArray[np.float64]]:
        """Candidate entries, their best strings, and one feature row per candidate (all vectorised)."""
        n_strings = len(self._texts)
        entry_scores = _scores(self._entry_words, _term_ids(self._entry_words, query.words), len(self._entries))
        word_scores = _scores(self._string_words, _term_ids(self._string_words, query.words), n_strings)
        query_grams = query.grams()
        gram_ids = _term_ids(self._string_grams, query_grams)
        gram_scores = _scores(self._string_grams, gram_ids, n_strings)
        gram_entry = np.maximum.reduceat(gram_scores, self._starts[:-1])
        candidate = np.zeros(len(self._entries), dtype=bool)
        candidate[_top(entry_scores, CANDIDATES)] = True
        candidate[_top(gram_entry, CANDIDATES)] = True
        entries = np.flatnonzero(candidate)
        if not len(entries):
            return entries, entries, np.zeros((0, len(FEATURES)))
        weights = [(w, self._idf.get(w, 1.0)) for w in query.words]
        total = sum(weight for _, weight in weights)
        query_hits = _weighted_hits(weights, self._in_strings, n_strings) / total
        best, (token_set, ratio, query_cover) = self._best_strings(
            entries, query, word_scores, gram_scores, query_hits)
        string_hits = np.zeros(n_strings)
        for word in set(query.words):
            if word in self._in_strings:
                ids, counts = self._in_strings[word]
                string_hits[ids] += counts * self._idf[word]
        totals = self._string_totals[best]
        string_cover = np.divide(string_hits[best], totals, out=np.zeros(len(best)), where=totals > 0)
        votes = np.bincount(self._owner[_top(word_scores, VOTERS)], minlength=len(self._entries))[entries]
        entry_cover = _weighted_hits(weights, self._in_entries, len(self._entries))[entries] / total
        gram_cover = self._gram_hits(gram_ids, best) / len(set(query_grams))
        known = sum(w in self._idf for w in query.words) / len(query.words)
        base = np.column_stack([
            entry_scores[entries].astype(np.float64) / (float(entry_scores.max()) or 1.0),
            gram_entry[entries].astype(np.float64) / (float(gram_entry.max()) or 1.0),
            token_set, ratio, query_cover, string_cover, votes / VOTERS, entry_cover, gram_cover,
            np.full(len(entries), known), np.full(len(entries), 1.0 / len(query.words)),
            self._soft_cover(query, best),
        ])
        base = np.hstack([base, _lead(base[:, _LEAD_COLUMNS])])
        cross = np.array([[self._entries[i].lang != query_lang] for i in entries.tolist()], dtype=np.float64)
        match = base[:, _MATCH_COLUMNS].max(axis=1, keepdims=True)
        features = [base, cross, cross * base[:, _CROSS_COLUMNS], match * base[:, _MATCHED_COLUMNS]]
        nb, nb_all, own = self._word_evidence(query, entries)
        extra = np.column_stack([nb, own, nb_all])
        extra = np.hstack([extra, _lead(extra), cross * self._lang_share.get(query_lang, 0.0)])
        return entries, best, np.hstack([*features, extra])

    def _word_evidence(self, query: _Text, entries: IntArray) -> tuple[npt.NDArray[np.float64], ...]:
        """Per candidate entry: naive-Bayes likelihoods of the query's content words and of all its words and
        word pairs, and the IDF-weighted share of each query word's occurrences that are the entry's."""
        own = np.zeros(len(self._entries))
        total_idf = 0.0
        for word in query.words:
            found = self._entry_counts.get(word)
            if found is not None:
                idf = self._idf.get(word, 1.0)
                own[found[0]] += idf * found[1] / self._word_totals[word]
                total_idf += idf
        return (_naive_bayes(query.words, self._entry_counts, self._entry_lengths, entries),
                _naive_bayes(query.phrase, self._phrase_counts, self._phrase_lengths, entries),
                own[entries] / (total_idf or 1.0))

    def _gram_hits(self, gram_ids: list[int], strings: IntArray) -> npt.NDArray[np.float64]:
        """Per string, how many of the distinct n-grams ``gram_ids`` it has."""
        found = np.zeros(len(self._gram_vocabulary), dtype=bool)
        found[gram_ids] = True
        members, sizes = _slices(self._gram_starts, strings)
        of_string = np.repeat(np.arange(len(strings)), sizes)
        present = found[self._gram_members[members]]
        return np.asarray(np.bincount(of_string, weights=present, minlength=len(strings)), dtype=np.float64)

    def _best_strings(
        self, entries: IntArray, query: _Text, word_scores: FloatArray, gram_scores: FloatArray,
        query_cover: npt.NDArray[np.float64],
    ) -> tuple[IntArray, tuple[npt.NDArray[np.float64], ...]]:
        """Per candidate entry, its string most similar to the query, and (token_set, ratio, query_cover).

        Only a few strings of each entry are compared: its question, its best by character n-grams
        and its STRINGS_PER_ENTRY best by words (all of them when the entry has no more).
        """
        strings, _ = _slices(self._starts, entries)
        group = self._owner[strings]
        by_word = np.lexsort((strings, -word_scores[strings], group))
        rank = np.empty(len(strings), dtype=np.int64)
        rank[by_word] = np.arange(len(strings)) - np.searchsorted(group[by_word], group[by_word])
        by_gram = np.lexsort((strings, -gram_scores[strings], group))
        first = _starts_of_runs(group[by_gram])
        best_gram = np.zeros(len(strings), dtype=bool)
        best_gram[by_gram[first]] = True
        keep = (self._sizes[strings] <= STRINGS_PER_ENTRY) | (rank < STRINGS_PER_ENTRY) | best_gram
        keep |= strings == self._starts[group]
        picks, group = strings[keep], group[keep]
        token_set = process.cdist([query.joined], [self._joined[s] for s in picks.tolist()],
                                  scorer=fuzz.token_set_ratio, dtype=np.float64)[0] / 100
        ratio = process.cdist([query.folded], [self._folded[s] for s in picks.tolist()],
                              scorer=fuzz.ratio, dtype=np.float64)[0] / 100
        cover = query_cover[picks]
        order = np.lexsort((picks, -(token_set + ratio + cover), group))
        top = order[_starts_of_runs(group[order])]
        return picks[top], (token_set[top], ratio[top], cover[top])

    def _soft_cover(self, query: _Text, strings: IntArray) -> npt.NDArray[np.float64]:
        """Per string, the length-weighted share of query words with a similar word in it."""
        query_words = query.folded.split()
        members, sizes = _slices(self._word_starts, strings)
        if not query_words or not sizes.any():
            return np.zeros(len(strings))
        vocab, columns = _distinct(self._word_ids[members], len(self._plain_words))
        sim = process.cdist(query_words, [self._plain_words[w] for w in vocab.tolist()], scorer=fuzz.ratio,
                            dtype=np.float32) / 100
        sim[sim < SOFT_MIN] = 0.0
        lengths = np.array([len(w) for w in query_words], dtype=np.float64)
        has_words = sizes > 0
        out = np.zeros(len(strings))
        out[has_words] = lengths @ np.maximum.reduceat(sim[:, columns], (np.cumsum(sizes) - sizes)[has_words],
                                                       axis=1) / lengths.sum()
        return out

    def _candidate(self, entry: int, string: int, score: float) -> Candidate:
        e = self._entries[entry]
        return Candidate(e.id, round(score, 6), e.lang, e.queue, self._raw[string])


def _postings(docs: Sequence[Collection[str]]) -> dict[str, tuple[IntArray, npt.NDArray[np.float64]]]:
    """Per word, the documents that contain it and how many times."""
    found: dict[str, dict[int, int]] = {}
    for i, doc in enumerate(docs):
        for word in doc:
            counts = found.setdefault(word, {})
            counts[i] = counts.get(i, 0) + 1
    return {w: (np.array(list(c), dtype=np.int64), np.array(list(c.values()), dtype=np.float64))
            for w, c in found.items()}


def _weighted_hits(weights: list[tuple[str, float]], postings: dict[str, tuple[IntArray, npt.NDArray[np.float64]]],
                   size: int) -> npt.NDArray[np.float64]:
    """Per document, the summed weight of the (word, weight) pairs whose word it contains."""
    hits = np.zeros(size)
    for word, weight in weights:
        if word in postings:
            hits[postings[word][0]] += weight
    return hits


NB_ALPHA = 0.1  # naive-Bayes smoothing


def _naive_bayes(terms: Sequence[str], postings: dict[str, tuple[IntArray, npt.NDArray[np.float64]]],
                 lengths: npt.NDArray[np.float64], entries: IntArray) -> npt.NDArray[np.float64]:
    """Multinomial naive-Bayes log-likelihood of ``terms`` for each candidate entry, per term, minus the best
    candidate's (the terms' shared smoothing constant cancels out)."""
    if not terms:
        return np.zeros(len(entries))
    gain = np.zeros(len(lengths))
    for term in terms:
        if term in postings:
            ids, counts = postings[term]
            gain[ids] += np.log1p(counts / NB_ALPHA)
    loglik = gain[entries] - len(terms) * np.log(lengths[entries] + NB_ALPHA * (len(postings) or 1))
    return (loglik - loglik.max()) / len(terms)


def _lead(columns: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Per column, each value minus the best value among the other rows (0 when alone)."""
    if len(columns) < 2:
        return np.zeros_like(columns)
    ordered = np.sort(columns, axis=0)
    first, second = ordered[-1], ordered[-2]
    return np.where(columns >= first, columns - second, columns - first)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))
