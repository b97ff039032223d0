"""Execution-accuracy metrics of Instruction Induction (Honovich et al. 2023, section 4.1).

A prediction and each acceptable answer are normalised the same way, compared with the task's
metric, and the best match over the acceptable answers counts. Per instruction the score is the
mean over test inputs; per task it is the mean over induced instructions weighted by how often
each distinct instruction was produced.

>>> normalize("Sentence 1: Cats and dogs. More")
'cats dogs'
>>> score("an apple.", ["An-Apple", "pear"], "exact_match")
1.0
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """The paper's normalisation, in its order: " and " -> " ", drop "Sentence 1:"/"Sentence 2:",
    strip, first line, cut at the first ".", lowercase, "-" -> " ", drop ASCII punctuation."""
    text = text.replace(" and ", " ")
    text = text.replace("Sentence 1:", " ").replace("Sentence 2:", " ")
    text = text.strip()
    text = text.split("\n")[0]
    text = text.split(".")[0]
    text = text.lower()
    text = text.replace("-", " ")
    return text.translate(_PUNCT)


def exact_match(prediction: str, answer: str) -> float:
    return float(normalize(prediction) == normalize(answer))


def token_f1(prediction: str, answer: str) -> float:
    """SQuAD-style token F1 over normalised whitespace tokens (common_concept, informal_to_formal)."""
    pred, gold = normalize(prediction).split(), normalize(answer).split()
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_set(prediction: str, answer: str) -> float:
    """1 when both hold the same set of tokens, in any order (orthography_starts_with, taxonomy_animal)."""
    return float(set(normalize(prediction).split()) == set(normalize(answer).split()))


def contains(prediction: str, answer: str) -> float:
    """1 when the normalised answer occurs in the prediction as whole words (synonyms).

    The answer is regex-escaped (the paper's code puts it into the pattern raw; after
    normalisation only regex-special characters outside ASCII punctuation could differ).
    """
    gold = normalize(answer)
    return float(re.search(rf"\b({re.escape(gold)})\b", normalize(prediction)) is not None)


#: The names of METRICS, as a type for config fields (a test keeps the two equal).
MetricName = Literal["exact_match", "f1", "exact_set", "contains"]

METRICS: dict[str, Callable[[str, str], float]] = {
    "exact_match": exact_match,
    "f1": token_f1,
    "exact_set": exact_set,
    "contains": contains,
}


def score(prediction: str, answers: Sequence[str], metric: str = "exact_match") -> float:
    """Best score of ``prediction`` over all acceptable ``answers`` (0 when there are none)."""
    fn = METRICS[metric]
    return max((fn(prediction, a) for a in answers), default=0.0)


def mean(values: Iterable[float]) -> float:
    vals = list(values)
    return sum(vals) / len(vals) if vals else 0.0


def weighted_mean(pairs: Iterable[tuple[float, int]]) -> float:
    """Mean of scores weighted by counts: the paper's per-task score over distinct instructions.

    >>> weighted_mean([(1.0, 3), (0.0, 1)])
    0.75
    """
    pairs = list(pairs)
    total = sum(c for _, c in pairs)
    return sum(s * c for s, c in pairs) / total if total else 0.0
