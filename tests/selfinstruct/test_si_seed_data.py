"""Checks on the Self-Instruct data shipped with instructforge (docs/methods.md section 2).

The 175 seed tasks, the 31 classification few-shot examples and the instance-generation
demonstrations were written for this project. These tests check the schema, the paper's
seed-pool properties (175 tasks, ~15% classification, instructions that pass the paper's own
filters and are mutually novel) and that none of our instructions is a near copy of the
paper's seed tasks (ROUGE-L against ../shared/data/self-instruct/seed_tasks.jsonl).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

DATA = Path(__file__).resolve().parents[2] / "src" / "instructforge" / "selfinstruct" / "data"

# The paper's blacklist plus Alpaca's additions (docs/methods.md section 2).
BLACKLIST = (
    "image",
    "images",
    "graph",
    "graphs",
    "picture",
    "pictures",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "go to",
    "video",
    "audio",
    "music",
    "flowchart",
    "diagram",
)
NOVELTY_THRESHOLD = 0.7


def _jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:  # strict UTF-8: a bad byte raises here
        for n, line in enumerate(fh, 1):
            assert line.strip(), f"{path.name}:{n}: blank line"
            row = json.loads(line)
            assert isinstance(row, dict), f"{path.name}:{n}: not a JSON object"
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def seeds() -> list[dict]:
    return _jsonl(DATA / "seed_tasks.jsonl")


@pytest.fixture(scope="module")
def classify_examples() -> list[dict]:
    return _jsonl(DATA / "classify_examples.jsonl")


@pytest.fixture(scope="module")
def demos() -> list[dict]:
    return _jsonl(DATA / "instance_demos.jsonl")


@pytest.fixture(scope="module")
def scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def _rouge_matrix(scorer: rouge_scorer.RougeScorer, rows: list[str], cols: list[str]):
    """ROUGE-L F between every row and column text, tokenising each text once.

    Same numbers as ``scorer.score(a, b)["rougeL"].fmeasure`` (checked below); the
    Self-Instruct reference code also pre-tokenises and calls ``_score_lcs`` for speed.
    """
    tok = scorer._tokenizer.tokenize
    col_tokens = [tok(c) for c in cols]
    for a in rows:
        ta = tok(a)
        yield a, [rouge_scorer._score_lcs(tb, ta).fmeasure for tb in col_tokens]


def test_fast_rouge_equals_scorer(seeds, scorer):
    texts = [s["instruction"] for s in seeds[:20]]
    for a, scores in _rouge_matrix(scorer, texts, texts):
        for b, f in zip(texts, scores, strict=True):
            assert f == pytest.approx(scorer.score(b, a)["rougeL"].fmeasure)


def test_seed_count_ids_names_and_schema(seeds):
    assert len(seeds) == 175
    assert [s["id"] for s in seeds] == [f"seed_task_{i}" for i in range(175)]
    names = [s["name"] for s in seeds]
    assert len(set(names)) == len(names)
    for s in seeds:
        assert set(s) == {"id", "name", "instruction", "instances", "is_classification"}, s["id"]
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", s["name"]), s["name"]
        assert isinstance(s["instruction"], str) and s["instruction"] == s["instruction"].strip()
        assert isinstance(s["is_classification"], bool)
        assert isinstance(s["instances"], list) and s["instances"], s["id"]
        for inst in s["instances"]:
            assert set(inst) == {"input", "output"}, s["id"]
            assert isinstance(inst["input"], str) and isinstance(inst["output"], str)
        assert any(inst["output"].strip() for inst in s["instances"]), s["id"]


def test_seed_mix_of_classification_and_inputs(seeds):
    share = sum(s["is_classification"] for s in seeds) / len(seeds)
    assert 0.13 <= share <= 0.17, share
    empty = sum(all(not i["input"].strip() for i in s["instances"]) for s in seeds)
    assert 0.25 * len(seeds) <= empty <= 0.75 * len(seeds), empty
    # classification instances always have something to classify
    for s in seeds:
        if s["is_classification"]:
            assert all(i["input"].strip() for i in s["instances"]), s["id"]


def test_seed_instructions_pass_the_papers_filters(seeds):
    for s in seeds:
        text = s["instruction"]
        for word in BLACKLIST:
            assert not re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE), (s["id"], word)
        assert 3 < len(text.split()) <= 150, s["id"]
        assert not text.lower().startswith("write a program"), s["id"]
        assert text[0].isascii() and text[0].isalnum(), s["id"]


def test_seed_instructions_are_mutually_novel(seeds, scorer):
    texts = [s["instruction"] for s in seeds]
    worst = (0.0, "", "")
    for i, (a, scores) in enumerate(_rouge_matrix(scorer, texts, texts)):
        for j in range(i + 1, len(texts)):
            worst = max(worst, (scores[j], a, texts[j]))
    assert worst[0] <= NOVELTY_THRESHOLD, worst


def test_no_instruction_copies_the_papers_seeds(seeds, classify_examples, demos, scorer, shared_data):
    paper = [r["instruction"] for r in _jsonl(shared_data / "self-instruct" / "seed_tasks.jsonl")]
    assert len(paper) == 175
    ours = (
        [s["instruction"] for s in seeds]
        + [c["instruction"] for c in classify_examples]
        + [d["instruction"] for d in demos]
    )
    for text, scores in _rouge_matrix(scorer, ours, paper):
        best = max(zip(scores, paper, strict=True))
        assert best[0] < NOVELTY_THRESHOLD, (text, best)


def test_classify_examples(classify_examples, seeds):
    assert len(classify_examples) == 31
    for c in classify_examples:
        assert set(c) == {"instruction", "is_classification"}
        assert isinstance(c["instruction"], str) and len(c["instruction"].split()) > 3
        assert isinstance(c["is_classification"], bool)
    assert sum(c["is_classification"] for c in classify_examples) == 12
    seed_texts = {s["instruction"].lower() for s in seeds}
    assert not seed_texts & {c["instruction"].lower() for c in classify_examples}


def test_instance_demos(demos):
    styles = [d["style"] for d in demos]
    assert set(styles) == {"input_first", "output_first"}
    assert styles.count("input_first") >= 6 and styles.count("output_first") >= 6
    for d in demos:
        assert set(d) == {"style", "instruction", "examples"}
        assert isinstance(d["instruction"], str) and d["instruction"].strip()
        assert isinstance(d["examples"], list) and 1 <= len(d["examples"]) <= 5
        for ex in d["examples"]:
            assert set(ex) == {"input", "output"}
            assert isinstance(ex["input"], str) and ex["output"].strip()
        if d["style"] == "output_first" and any(ex["input"].strip() for ex in d["examples"]):
            # a classification demo shows several distinct labels, each with an input
            assert len({ex["output"] for ex in d["examples"]}) >= 2, d["instruction"]
            assert all(ex["input"].strip() for ex in d["examples"])
        if d["style"] == "output_first":
            assert list(d["examples"][0]) == ["output", "input"]  # label first
    # some input-first demos show a task that needs no input
    assert any(not ex["input"] for d in demos if d["style"] == "input_first" for ex in d["examples"])
