"""Verb-noun extraction with the real spaCy parser (Self-Instruct Figure 2)."""

from __future__ import annotations

import pytest

from instructforge.reports import verbs


@pytest.fixture(scope="module")
def parser():
    p, why = verbs.load_parser()
    if p is None:
        pytest.skip(f"no spaCy English model: {why}")
    return p


def test_root_verb_and_direct_object(parser):
    texts = [
        "Write a poem about the ocean.",
        "Classify the sentiment of the following tweets.",
        "Given a list of numbers, sort the numbers in ascending order.",
        "Here is a short story. Summarize the story in one sentence.",
        "What is the capital of France?",
    ]
    pairs = verbs.extract_pairs(parser, texts)
    assert pairs[0] == ("write", "poem")
    assert pairs[1] == ("classify", "sentiment")
    assert pairs[2] == ("sort", "number")  # lemmatised: "numbers" -> "number"
    assert pairs[3] == ("summarize", "story")  # the first sentence has no verb: the next one counts
    assert pairs[4] is None  # a question without a direct noun object has no structure


def test_top_structure_counts():
    pairs = [("write", "poem")] * 3 + [("write", "story")] * 2 + [("write", "essay"), ("give", "example"), None]
    s = verbs.top_structure(pairs, top_verbs=1, top_nouns=2)
    assert s["parsed"] == 8 and s["with_structure"] == 7 and s["distinct_verbs"] == 2 and s["distinct_pairs"] == 4
    assert s["top"] == [
        {"verb": "write", "count": 6, "nouns": [{"noun": "poem", "count": 3}, {"noun": "story", "count": 2}]}
    ]


def test_unknown_model_is_reported_not_raised():
    p, why = verbs.load_parser("en_core_web_nonexistent")
    assert p is None and "en_core_web_nonexistent" in why
