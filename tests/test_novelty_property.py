"""Property-based tests of the novelty filter with rouge_score as the oracle: random texts with
repeated words, punctuation, unicode (incl. characters whose lowercase is ASCII), whitespace and
empty strings; with and without the Porter stemmer."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from instructforge.selfinstruct.novelty import NoveltyIndex, rouge_l, tokenize

SCORERS = {s: rouge_scorer.RougeScorer(["rougeL"], use_stemmer=s) for s in (False, True)}

PIECES = [
    "the",
    "The",
    "THE",
    "a",
    "cat",
    "cats",
    "Cats",
    "running",
    "runs",
    "ran",
    "generalization",
    "x1",
    "42",
    "3.5",
    "don't",
    "e-mail",
    "naïve",
    "İstanbul",
    "\u212a",
    "ß",
    "ﬁle",
    "日本",
    "😀",
    "café",
    "",
    " ",
    ",",
    ".",
    "!?",
    "-",
    "_",
    "\n",
    "\t",
    "(a)",
    "'s",
]
piece = st.one_of(st.sampled_from(PIECES), st.text(max_size=6))
text = st.lists(piece, max_size=14).flatmap(
    lambda ps: st.lists(st.sampled_from([" ", "", ", ", "  ", "\n"]), min_size=len(ps), max_size=len(ps)).map(
        lambda seps: "".join(p + s for p, s in zip(ps, seps, strict=True))
    )
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def oracle(a: str, b: str, stem: bool = False) -> float:
    return SCORERS[stem].score(a, b)["rougeL"].fmeasure


@FAST
@given(text, st.booleans())
def test_tokenize_matches_rouge_score(t, stem):
    assert tokenize(t, use_stemmer=stem) == SCORERS[stem]._tokenizer.tokenize(t)


@FAST
@given(text, text, st.booleans())
def test_rouge_l_matches_rouge_score(a, b, stem):
    ref = oracle(a, b, stem)
    ours = rouge_l(a, b, use_stemmer=stem)
    assert ours == ref and abs(ours - ref) <= 1e-9
    assert rouge_l(b, a, use_stemmer=stem) == ref
    assert (ours <= 0.7) == (ref <= 0.7)


@FAST
@given(st.lists(text, max_size=12), text, st.booleans())
def test_index_max_and_greedy_match_brute_force(pool, query, stem):
    index = NoveltyIndex(use_stemmer=stem)
    for p in pool:
        index.add(p)
    scores = [oracle(query, p, stem) for p in pool]
    best = max(scores) if scores else 0.0
    assert index.max_similarity(query) == (best, scores.index(best) if scores else None)
    assert list(index.scores(query)) == scores

    greedy = NoveltyIndex(threshold=0.7, use_stemmer=stem)
    kept: list[str] = []
    for t in [*pool, query]:
        s = [oracle(t, k, stem) for k in kept]
        b = max(s) if s else 0.0
        expected = (b <= 0.7, b, s.index(b) if s else None)
        assert greedy.check_and_add(t) == expected
        if b <= 0.7:
            kept.append(t)
    assert greedy.texts == kept


@FAST
@given(
    st.lists(st.sampled_from(["a", "b", "c", "d", "a b", "b a"]), min_size=1, max_size=30),
    st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=12),
)
def test_index_with_many_near_duplicates(pool_words, query_words):
    """Small alphabets give many ties and near-ties, where the bounds and the first-max rule
    matter most."""
    pool = [" ".join(pool_words[i:]) for i in range(len(pool_words))]
    query = " ".join(query_words)
    index = NoveltyIndex()
    for p in pool:
        index.add(p)
    scores = [oracle(query, p) for p in pool]
    best = max(scores)
    assert index.max_similarity(query) == (best, scores.index(best))
