"""Golden cases for the Instruction Induction metrics, computed by hand."""

from __future__ import annotations

import pytest

from instructforge.induction.induce import postprocess
from instructforge.induction.metrics import contains, exact_match, exact_set, normalize, score, token_f1, weighted_mean


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("salt and pepper", "salt pepper"),  # " and " -> " "
        ("Sentence 1: The cat sat", "the cat sat"),  # drop "Sentence 1:", strip
        ("Sentence 2:  Rain fell", "rain fell"),
        ("   padded   ", "padded"),  # strip
        ("first line\nsecond line", "first line"),  # first line only
        ("\n\nafter blank lines\nnext", "after blank lines"),  # strip happens before the line split
        ("cut here. not here", "cut here"),  # cut at the first "."
        ("3.14", "3"),
        ("UPPER Case", "upper case"),  # lowercase
        ("well-known", "well known"),  # "-" -> " "
        ("it's (fine), ok!", "its fine ok"),  # punctuation dropped
        ("sand and", "sand and"),  # " and " needs a space on both sides
    ],
)
def test_normalize_each_step(raw, expected):
    assert normalize(raw) == expected


def test_exact_match():
    assert exact_match(" Positive.\nmore", "positive") == 1.0
    assert exact_match("positive review", "positive") == 0.0


def test_token_f1_hand_computed():
    # pred tokens: involve, caching, things (3); gold: involve, caching (2); common 2
    # P = 2/3, R = 1, F1 = 2 * (2/3) / (5/3) = 0.8
    assert token_f1("involve caching things", "involve caching.") == pytest.approx(0.8)
    assert token_f1("nothing shared", "involve caching") == 0.0
    # repeated tokens count once per occurrence: pred a a b (3), gold a b b (3), common a,b = 2
    assert token_f1("a a b", "a b b") == pytest.approx(2 / 3)


def test_exact_set_ignores_order_and_repeats():
    assert exact_set("bear, beetle and kangaroo", "kangaroo, beetle, bear") == 1.0
    assert exact_set("bear bear beetle", "beetle bear") == 1.0
    assert exact_set("bear", "bear beetle") == 0.0


def test_contains_whole_word():
    assert contains("the word is process", "process") == 1.0
    assert contains("processing", "process") == 0.0
    assert contains("A Big-Deal answer", "big deal") == 1.0


def test_multi_answer_max():
    assert score("Zeit", ["Uhrzeit", "zeit"], "exact_match") == 1.0
    assert score("involve going", ["involve vertical movement.", "involve going up."], "f1") == pytest.approx(0.8)
    assert score("anything", [], "exact_match") == 0.0


def test_weighted_task_score():
    # instruction A (accuracy 0.5) induced 3 times, B (accuracy 1.0) once: (1.5 + 1) / 4
    assert weighted_mean([(0.5, 3), (1.0, 1)]) == pytest.approx(0.625)
    assert weighted_mean([]) == 0.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" write the sum.\nsecond line", "write the sum."),
        (":\n\nmost likely: to add the numbers", "add the numbers"),
        ("probably to translate the word into French", "translate the word into French"),
        ("total the numbers", "total the numbers"),  # "to" only as a whole word
        ('the friend was told "Write the word in capital letters" and did', "Write the word in capital letters"),
        ('write "positive" or "negative"', "write positive or negative"),  # short quotes stay part of it
    ],
)
def test_postprocess_instruction(raw, expected):
    assert postprocess(raw) == expected
