"""Shared pieces of the Self-Instruct tests: a small seed file written for the tests, the
scripted-backend rules of the golden run, and readers of a run store."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

_spec = importlib.util.spec_from_file_location("si_root_conftest", Path(__file__).parents[1] / "conftest.py")
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
run_cli = _root.run_cli
write_rules = _root.write_rules

SEEDS = [
    (
        "Give me a list of five fruits that are red.",
        "",
        "Strawberry, cherry, raspberry, red apple, pomegranate.",
        False,
    ),
    ("Is the following number even or odd?", "17", "Odd", True),
    ("Rewrite the sentence in the past tense.", "I walk to school.", "I walked to school.", False),
    ("Suggest a title for a blog post about saving money.", "", "Ten Small Habits That Grow Your Savings", False),
    ("Tell me whether the statement is true or false.", "The sun is a star.", "True", True),
    ("Explain what a verb is to a child.", "", "A verb is a doing word, like run or eat.", False),
    ("Translate the phrase into Spanish.", "Good morning", "Buenos días", False),
    ("Summarize the paragraph in one sentence.", "Cats sleep a lot. They nap in the sun.", "Cats sleep often.", False),
]


def write_seeds(path: Path) -> Path:
    rows = [
        {
            "id": f"t{i}",
            "name": f"task{i}",
            "instruction": ins,
            "instances": [{"input": i_, "output": o}],
            "is_classification": c,
        }
        for i, (ins, i_, o, c) in enumerate(SEEDS)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


LONG = " ".join(["word"] * 60)
BOOTSTRAP_RESPONSES = [
    # round 0, prompt 0
    "Decide if this email is spam or not.\n10. Write a haiku about the sea and the moon.\n"
    "11. Draw a picture of a cat please.\n12. Hi.\n13. Give me a list of five fruits that are yellow.",
    # round 0, prompt 1
    "Explain how rainbows form in simple terms.\n10. Write a program to add numbers in Python.\n"
    "11. Explain how rainbows form in simple terms.\n12. ¿Qué hora es en Madrid ahora?",
    # round 1, prompt 0: longer than bootstrap_max_tokens (40 words) -> finish_reason "length"
    f"Describe your favourite season and why. {LONG}",
    # round 1, prompt 1
    "Classify the sentiment of a movie review as good or bad.\n10. Give three tips for a job interview today.\n"
    "11. Suggest a weekend plan for a family of four.",
]
RULES = [
    {"regex": r"Task: [^\n]*(spam|sentiment)[^\n]*\nIs it classification\?$", "response": " Yes"},
    {"regex": r"\nIs it classification\?$", "response": " No"},
    {
        "regex": r"Task: Write a haiku about the sea and the moon\.\n$",
        # one non-empty input with two outputs: the task is rejected (an empty input would not be)
        "response": "Example 1\nInput: the tide\nOutput: A\nExample 2\nInput: the tide\nOutput: B",
    },
    {"regex": r"Task: Give three tips for a job interview today\.\n$", "response": "Example 1\nInput: tips\nOutput: "},
    {
        "contains": "Each task below is a classification task",
        "response": "Class label: Spam\nInput: Win money now\nClass label: Not spam\nInput: Meeting at 3",
    },
    {
        "contains": "Write examples for each of the tasks below",
        "response": "Example 1\nInput: hello\nOutput: HELLO\nExample 2\nInput: hi\nOutput: HI\nExample 3\nInput: x:\nOutput: X",
    },
    {"contains": "Continue the list", "response": BOOTSTRAP_RESPONSES},
]
CONFIG = {"pool_lag": 1, "bootstrap_max_tokens": 40}


def setup_run_files(tmp: Path) -> tuple[Path, Path, Path]:
    """(seeds, rules, config) files for the golden scripted run."""
    seeds = write_seeds(tmp / "seeds.jsonl")
    rules = write_rules(tmp / "rules.jsonl", RULES)
    cfg = tmp / "cfg.json"
    cfg.write_text(json.dumps(CONFIG))
    return seeds, rules, cfg


def generate_args(seeds: Path, rules: Path, cfg: Path, out: Path, n: int = 5) -> list[str]:
    return [
        "--quiet",
        "generate",
        "--seeds",
        str(seeds),
        "--out",
        str(out),
        "--num-instructions",
        str(n),
        "--model",
        f"scripted:{rules}",
        "--config",
        str(cfg),
        "--seed",
        "3",
    ]


def records(run_dir: Path, kind: str) -> list[tuple[str, str, dict]]:
    db = sqlite3.connect(str(run_dir / "run.sqlite"))
    try:
        rows = db.execute("SELECT key, status, payload FROM records WHERE kind=? ORDER BY key", (kind,)).fetchall()
    finally:
        db.close()
    return [(k, s, json.loads(p)) for k, s, p in rows]
