"""Exact, fast ROUGE-L novelty filter (Self-Instruct, Wang et al. 2023, section 2.2 "Filtering and
postprocessing": a new instruction joins the pool only if its ROUGE-L with every pool instruction
is <= 0.7; docs/methods.md section 2).

Everything here reproduces ``rouge_score.rouge_scorer.RougeScorer(["rougeL"])`` exactly: the same
tokenizer (lowercase, runs of ``[a-z0-9]``, optional Porter stemming of tokens longer than 3
characters), the same LCS and the same floating-point expression for the F-measure, so scores are
bit-identical, not merely close.

Speed comes from three things, none of which changes a result (proof in docs/novelty.md):
- tokens become integer ids, and a token sequence becomes a string of code points, so rapidfuzz's
  bit-parallel LCS (C++) computes the LCS length;
- an inverted index of tokens gives, for a query and every pool text at once (numpy), the size of
  the multiset intersection I, and LCS <= I <= min(m, n), hence F <= 2I/(m+n);
- branch and bound: the exact F of the few texts with the largest bound gives a lower bound of the
  maximum, and only texts whose upper bound reaches it are scored exactly.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import LCSseq

from ..core.errors import InputError
from ..core.io import json_lines
from ..core.settings import option, validate

__all__ = ["NoveltyIndex", "tokenize", "rouge_l", "read_records", "DedupConfig"]

# rouge_score/tokenize.py, same patterns.
_NON_ALPHANUM_RE = re.compile(r"[^a-z0-9]+")
_SPACES_RE = re.compile(r"\s+")
_VALID_TOKEN_RE = re.compile(r"^[a-z0-9]+$")

_STEMS: dict[str, str] = {}
_STEMMER: list[Any] = []

# Safety margin for comparing the float bound 2I/(m+n) with computed F values: both are within a
# few ulps (~1e-16) of the real numbers they stand for, so 1e-9 can never hide a candidate.
_EPS = 1e-9
# How many texts with the largest upper bound are scored exactly to get the first lower bound.
_TOP_K = 16


def _stem(token: str) -> str:
    s = _STEMS.get(token)
    if s is None:
        if not _STEMMER:
            from nltk.stem import porter  # rouge_score's DefaultTokenizer uses exactly this

            _STEMMER.append(porter.PorterStemmer())
        s = _STEMS[token] = str(_STEMMER[0].stem(token))
    return s


def tokenize(text: str, use_stemmer: bool = False) -> list[str]:
    """rouge_score's default tokenizer: lowercase, non-alphanumerics become spaces, split,
    Porter-stem tokens longer than 3 characters (if asked), drop empty or invalid tokens."""
    text = _NON_ALPHANUM_RE.sub(" ", text.lower())
    tokens = _SPACES_RE.split(text)
    if use_stemmer:
        tokens = [_stem(x) if len(x) > 3 else x for x in tokens]
    return [x for x in tokens if _VALID_TOKEN_RE.match(x)]


def _fmeasure(lcs: int, n_target: int, n_prediction: int) -> float:
    """rouge_score's _score_lcs + scoring.fmeasure, the same float operations in the same order."""
    if not n_target or not n_prediction:
        return 0.0
    precision = lcs / n_prediction
    recall = lcs / n_target
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def rouge_l(a: str, b: str, use_stemmer: bool = False) -> float:
    """ROUGE-L F-measure, identical to ``RougeScorer(["rougeL"]).score(a, b)["rougeL"].fmeasure``
    (a is the target, b the prediction; the value is symmetric anyway)."""
    ta, tb = tokenize(a, use_stemmer), tokenize(b, use_stemmer)
    if not ta or not tb:
        return 0.0
    ids: dict[str, int] = {}
    sa = [ids.setdefault(t, len(ids)) for t in ta]
    sb = [ids.setdefault(t, len(ids)) for t in tb]
    return _fmeasure(int(LCSseq.similarity(sa, sb)), len(ta), len(tb))


def _code(token_id: int) -> int:
    """Code point for a token id: 0 is reserved for tokens the pool has never seen; surrogates
    are skipped so the sequences are ordinary strings."""
    c = token_id + 1
    return c if c < 0xD800 else c + 0x800


class NoveltyIndex:
    """A growing pool of texts answering "what is the max ROUGE-L F of this text vs the pool"
    exactly, and the greedy Self-Instruct filter on top (kept iff max <= threshold)."""

    _MAX_CODE = 0x10FFFF  # beyond this many distinct tokens sequences become lists of ints

    def __init__(self, threshold: float = 0.7, use_stemmer: bool = False):
        self.threshold = threshold  # paper: reject if ROUGE-L > 0.7 with any pool instruction
        self.use_stemmer = use_stemmer  # paper: use_stemmer=False
        self.texts: list[str] = []
        self.exact_scored = 0  # pairs scored exactly (the rest were skipped by the bounds)
        self.pairs_seen = 0  # pairs answered (scored or skipped)
        self._vocab: dict[str, int] = {}
        self._seqs: list[str | list[int]] = []
        self._as_str = True
        self._lens = np.zeros(1024, dtype=np.int64)
        self._post_ids: list[np.ndarray] = []  # per token id: the texts holding it (ascending)
        self._post_cnt: list[np.ndarray] = []  # ... and how many times each holds it
        self._post_n: list[int] = []
        self._post_max: list[int] = []  # largest count of the token in one text

    def __len__(self) -> int:
        return len(self.texts)

    # -- encoding ------------------------------------------------------------------------------
    def _seq(self, codes: list[int]) -> str | list[int]:
        return "".join(map(chr, codes)) if self._as_str else codes

    def _codes_for_add(self, tokens: list[str]) -> list[int]:
        codes = []
        for t in tokens:
            i = self._vocab.get(t)
            if i is None:
                i = self._vocab[t] = len(self._vocab)
                self._post_ids.append(np.empty(4, dtype=np.int32))
                self._post_cnt.append(np.empty(4, dtype=np.int32))
                self._post_n.append(0)
                self._post_max.append(0)
            codes.append(_code(i))
        if self._as_str and codes and max(codes) > self._MAX_CODE:
            self._as_str = False  # too many distinct tokens for code points: switch to int lists
            self._seqs = [[ord(c) for c in s] if isinstance(s, str) else s for s in self._seqs]
        return codes

    # -- public API ----------------------------------------------------------------------------
    def add(self, text: str) -> int:
        """Add a text to the pool unconditionally; returns its index."""
        return self._add(text, tokenize(text, self.use_stemmer))

    def _add(self, text: str, tokens: list[str]) -> int:
        idx = len(self.texts)
        codes = self._codes_for_add(tokens)
        if idx == len(self._lens):
            self._lens = np.concatenate([self._lens, np.zeros(len(self._lens), dtype=np.int64)])
        self._lens[idx] = len(tokens)
        for t, c in Counter(tokens).items():
            i = self._vocab[t]
            n = self._post_n[i]
            if n == len(self._post_ids[i]):
                self._post_ids[i] = np.concatenate([self._post_ids[i], np.empty(n, np.int32)])
                self._post_cnt[i] = np.concatenate([self._post_cnt[i], np.empty(n, np.int32)])
            self._post_ids[i][n] = idx
            self._post_cnt[i][n] = c
            self._post_n[i] = n + 1
            if c > self._post_max[i]:
                self._post_max[i] = c
        self.texts.append(text)
        self._seqs.append(self._seq(codes))
        return idx

    def max_similarity(self, text: str) -> tuple[float, int | None]:
        """Max ROUGE-L F of ``text`` against every pool text and the index of the first text
        reaching it; ``(0.0, None)`` for an empty pool, ``(0.0, 0)`` if nothing is shared."""
        return self._max_similarity(tokenize(text, self.use_stemmer))

    def scores(self, text: str) -> np.ndarray:
        """Exact ROUGE-L F of ``text`` against every pool text, in pool order (no bounds); e.g.
        for the paper's "10 most similar instructions" and average similarity."""
        tokens = tokenize(text, self.use_stemmer)
        if not self.texts or not tokens:
            return np.zeros(len(self.texts), dtype=np.float64)
        qseq = self._seq([_code(self._vocab[t]) if t in self._vocab else 0 for t in tokens])
        return self._exact(qseq, len(tokens), np.arange(len(self.texts)))

    def check_and_add(self, text: str) -> tuple[bool, float, int | None]:
        """The Self-Instruct filter: kept iff max similarity <= threshold; a kept text is added."""
        tokens = tokenize(text, self.use_stemmer)
        score, idx = self._max_similarity(tokens)
        kept = score <= self.threshold
        if kept:
            self._add(text, tokens)
        return kept, score, idx

    # -- search --------------------------------------------------------------------------------
    def _intersections(self, counts: Counter[int]) -> np.ndarray:
        """|multiset(query) & multiset(text)| for every pool text."""
        n_pool = len(self.texts)
        plain: list[np.ndarray] = []
        weighted: list[tuple[np.ndarray, np.ndarray]] = []
        for i, c in counts.items():
            n = self._post_n[i]
            ids = self._post_ids[i][:n]
            if self._post_max[i] == 1:
                plain.append(ids)
            else:
                weighted.append((ids, np.minimum(self._post_cnt[i][:n], c)))
        if plain:
            inter = np.bincount(np.concatenate(plain), minlength=n_pool)
        else:
            inter = np.zeros(n_pool, dtype=np.int64)
        if weighted:
            ids = np.concatenate([w[0] for w in weighted])
            cnt = np.concatenate([w[1] for w in weighted])
            inter = inter + np.bincount(ids, weights=cnt, minlength=n_pool).astype(np.int64)
        return inter

    def _exact(self, qseq: str | list[int], m: int, idx: np.ndarray) -> np.ndarray:
        """Exact F (rouge_score's float expression, query = target, pool text = prediction)."""
        self.exact_scored += len(idx)
        seqs = self._seqs
        lcs = process.cdist([qseq], [seqs[i] for i in idx], scorer=LCSseq.similarity, dtype=np.int32, workers=1)[
            0
        ].astype(np.float64)
        n = self._lens[idx].astype(np.float64)
        pos = lcs > 0
        if not pos.all():  # rouge_score: no common token -> 0.0
            f = np.zeros(len(idx), dtype=np.float64)
            f[pos] = self._fmeasures(lcs[pos], m, n[pos])
            return f
        return self._fmeasures(lcs, m, n)

    @staticmethod
    def _fmeasures(lcs: np.ndarray, m: int, n: np.ndarray) -> np.ndarray:
        precision = lcs / n  # prediction = pool text
        recall = lcs / m  # target = query
        return 2 * precision * recall / (precision + recall)

    def _max_similarity(self, tokens: list[str]) -> tuple[float, int | None]:
        n_pool = len(self.texts)
        if n_pool == 0:
            return 0.0, None
        self.pairs_seen += n_pool
        m = len(tokens)
        known = [self._vocab.get(t) for t in tokens]
        counts = Counter(i for i in known if i is not None)
        if not counts:  # no token shared with the pool (or no token at all): every F is 0
            return 0.0, 0
        inter = self._intersections(counts)
        codes = [0 if i is None else _code(i) for i in known]
        qseq = self._seq(codes)
        # Lower bound of the max: exact F of a few texts with the largest intersection (> 0, as
        # they share a token with the query, so their LCS >= 1).
        probe = np.flatnonzero(inter == inter.max())[:_TOP_K]
        lower = float(self._exact(qseq, m, probe).max())
        # F = 2*LCS/(m+n) <= 2*I/(m+n), and I <= n, so F >= lower needs I >= lower*m/(2-lower).
        i_min = max(1, int(np.ceil(lower * m / (2.0 - lower) - _EPS)))
        sel = np.flatnonzero(inter >= i_min)
        ub = 2.0 * inter[sel] / (m + self._lens[sel])
        keep = ub >= lower - _EPS
        cand, ub = sel[keep], ub[keep]
        if len(cand) > 4 * _TOP_K:  # raise the lower bound with the texts of largest bound
            top = np.argpartition(ub, len(cand) - _TOP_K)[-_TOP_K:]
            lower = max(lower, float(self._exact(qseq, m, cand[top]).max()))
            cand = cand[ub >= lower - _EPS]
        # cand is ascending, so argmax below is the first max
        f = self._exact(qseq, m, cand)
        j = int(np.argmax(f))
        return float(f[j]), int(cand[j])


def read_records(
    path: Path, field: str = "instruction", *, strict: bool = True
) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Read a JSONL file (or a JSON list, as Alpaca's alpaca_data.json) of objects that each have
    a string ``field``.

    Returns ``([(line_number, record), ...], problems)``; blank lines are skipped. With
    ``strict`` the first problem raises ``InputError`` (``FILE:LINE: reason``); otherwise each
    problem is reported as such a line and the record is skipped.
    """
    records: list[tuple[int, dict[str, Any]]] = []
    problems: list[str] = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError.at(path, None, f"cannot read: {e}") from e
    if text.lstrip().startswith("["):  # a JSON list: "line" n is the n-th record
        try:
            listed = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError.at(path, e.lineno, f"invalid JSON ({e.msg} at column {e.colno})") from None
        rows: list[tuple[int, Any, json.JSONDecodeError | None]] = [(n, r, None) for n, r in enumerate(listed, 1)]
    else:
        rows = list(json_lines(text))
    for lineno, rec, err in rows:
        reason = None
        if err is not None:
            reason = f"invalid JSON ({err.msg} at column {err.colno})"
        elif not isinstance(rec, dict):
            reason = "not a JSON object"
        elif field not in rec:
            reason = f'missing "{field}"'
        elif not isinstance(rec[field], str):
            reason = f'"{field}" is not a string'
        if reason is not None:
            if strict:
                raise InputError.at(path, lineno, reason)
            problems.append(f"{path}:{lineno}: {reason}")
            continue
        records.append((lineno, rec))
    return records, problems


@dataclass
class DedupConfig:
    """Settings of ``instructforge dedup`` (and ``instructforge.api.induction.dedup``)."""

    threshold: float = option(
        0.7,
        "Reject a record whose max ROUGE-L F with a kept record is above this; equal is kept (paper: 0.7)",
        min=0,
        max=1,
        flag=True,
    )
    field: str = option("instruction", "The text field compared (paper: the instruction)", flag=True)
    stemmer: bool = option(False, "Porter-stem tokens as rouge_score's use_stemmer=True (paper: off)", flag=True)
    processes: int = option(
        0,
        "Processes the novelty index splits its queries over (0: every core this process may use); "
        "the kept records and scores are the same whatever the number",
        min=0,
        flag=True,
    )

    def __post_init__(self) -> None:
        validate(self)
        if not self.field:
            raise InputError("DedupConfig: field must not be empty")
