"""APE-style search with the scripted backend: the candidate that executes best is chosen."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli, write_rules
from instructforge.induction.search import SearchConfig, search
from instructforge.models.client import open_llm

# Demonstrations: every output is "yes".
DEMOS = [(str(n), "yes") for n in range(30)]
RULES = [
    # proposals, by sample_index: one always right, one right on even numbers only, one never
    {
        "contains": "The instruction I gave my friend was",
        "response": [" Answer yes for even numbers", ' "Always answer yes."', " Answer no", " Answer no"],
    },
    {"contains": "Instruction: Always answer yes.\n", "response": "yes"},
    {"regex": r"Instruction: Answer yes for even numbers\nInput: \d*[02468]\nOutput:", "response": "yes"},
    {"contains": "Instruction: Answer yes for even numbers\n", "response": "no"},
    {"contains": "Instruction: Answer no\n", "response": "no"},
    {"contains": "New instruction:", "response": ["Say yes every time.", "Answer no"]},
    {"contains": "Instruction: Say yes every time.\n", "response": "yes, always"},
]


def test_search_picks_the_best_executor(tmp_path):
    llm = open_llm(f"scripted:{write_rules(tmp_path / 'r.jsonl', RULES)}", use_cache=False)
    cfg = SearchConfig(num_candidates=4, max_eval=20, first_budget=5, variations=2)
    res = search(llm, DEMOS, cfg)
    assert res.best.text == "Always answer yes."
    assert res.best.accuracy == 1.0
    by_text = {c.text: c for c in res.candidates}
    # "Answer no" was a duplicate proposal: merged. Its score is 0 and it was dropped after round 1.
    assert [c.text for c in res.candidates].count("Answer no") == 1
    assert len(by_text["Answer no"].scores) == 5
    assert 0 < by_text["Answer yes for even numbers"].accuracy < 1
    assert len(res.best.scores) == 20  # the leader saw the whole held-out set
    # the variation was scored but lost ("yes, always" normalises to "yes, always" != "yes")
    assert by_text["Say yes every time."].source == "variation"
    assert by_text["Say yes every time."].accuracy == 0.0
    rows = res.table()
    assert [r["chosen"] for r in rows].count(True) == 1 and rows[0]["text"] == "Always answer yes."
    # held-out demonstrations never appear in a proposal prompt
    prompts = [r.prompt for r in llm.backend.history if "The instruction I gave" in (r.prompt or "")]
    held = {x for x, _ in DEMOS} - {x for p in prompts for x in p.split("Input: ")[1:] for x in [x.split("\n")[0]]}
    assert len(held) >= 20
    llm.close()


def test_induce_cli_search(tmp_path):
    rules = write_rules(tmp_path / "r.jsonl", RULES)
    demos = tmp_path / "d.jsonl"
    demos.write_text("".join(json.dumps({"input": x, "output": y}) + "\n" for x, y in DEMOS), encoding="utf-8")
    r = run_cli(
        "induce", "--demos", str(demos), "--model", f"scripted:{rules}", "--num-candidates", "3", "--json", "--no-cache"
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["instruction"] == "Always answer yes." and out["score"] == 1.0
    assert {c["text"] for c in out["candidates"]} == {
        "Always answer yes.",
        "Answer yes for even numbers",
        "Answer no",
    }
    # greedy induction (no search): one instruction, post-processed
    r = run_cli("induce", "--demos", str(demos), "--model", f"scripted:{rules}", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Answer yes for even numbers"


@pytest.mark.parametrize("n", [6])
def test_too_few_demos_for_search_falls_back(tmp_path, n):
    rules = write_rules(tmp_path / "r.jsonl", RULES)
    demos = tmp_path / "d.jsonl"
    demos.write_text("".join(json.dumps({"input": x, "output": y}) + "\n" for x, y in DEMOS[:n]), encoding="utf-8")
    r = run_cli("induce", "--demos", str(demos), "--model", f"scripted:{rules}", "--num-candidates", "3", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Answer yes for even numbers"
    assert "search needs at least k+5" in r.stderr
