"""APE's pieces of the search: the UCB bandit, the likelihood score on every backend path, scoring
given candidates, the fixed execution model."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli, write_rules
from instructforge.induction.search import SearchConfig, search
from instructforge.models.backends import BackendOptions
from instructforge.models.backends.scripted import ScriptedBackend
from instructforge.models.client import LLM
from instructforge.models.executors import LocalExecutor
from instructforge.models.types import Request
from instructforge.testing.fake_openai import FakeOpenAIServer

DEMOS = [(str(n), "yes") for n in range(20)]
# eight candidates: "Planted" always right; "Cand i" right on inputs divisible by i + 2
CANDS = ["Planted", *[f"Cand {i}" for i in range(7)]]


def _bandit_rules() -> list[dict]:
    rules = [{"contains": "Instruction: Planted\n", "response": "yes"}]
    for i in range(7):
        right = "|".join(str(n) for n in range(20) if n % (i + 2) == 0)
        rules.append({"regex": rf"Instruction: Cand {i}\nInput: ({right})\nOutput:", "response": "yes"})
    rules.append({"default": True, "response": "no"})
    return rules


def _scripted(rules: list[dict]) -> tuple[LLM, ScriptedBackend]:
    backend = ScriptedBackend(rules)
    return LLM("embedded", executor=LocalExecutor(lambda: backend)), backend


def _exec_calls(backend: ScriptedBackend) -> int:
    return sum(1 for r in backend.history if (r.prompt or "").startswith("Instruction: "))


def test_ucb_spends_fewer_evaluations_than_exhaustive_and_finds_the_planted_best():
    llm, backend = _scripted(_bandit_rules())
    ucb = SearchConfig(method="ucb", max_eval=20, ucb_rounds=10, per_round=2, num_samples=2)
    res = search(llm, DEMOS, ucb, given=CANDS)
    assert res.best.text == "Planted" and res.best.score == 1.0
    ucb_calls = _exec_calls(backend)
    assert ucb_calls == res.calls <= 10 * 2 * 2  # every request counted; at most rounds x per_round x samples
    # exhaustive: every candidate on every held-out demonstration (one halving round on all 20)
    llm2, backend2 = _scripted(_bandit_rules())
    full = search(llm2, DEMOS, SearchConfig(max_eval=20, first_budget=20), given=CANDS)
    assert full.best.text == "Planted"
    assert _exec_calls(backend2) == 8 * 20 and ucb_calls < _exec_calls(backend2) / 3
    # the bandit spent its pulls on the promising arms: the planted one got the most
    by = {c.text: c.evaluated for c in res.candidates}
    assert by["Planted"] == max(by.values())


def test_likelihood_search_with_scripted_logprobs_and_rounds():
    rules = [
        {"contains": "Instruction: Planted\nInput:", "response": "yes", "logprob": -0.1},
        {"contains": "Instruction: Say yes always\nInput:", "response": "yes", "logprob": -0.05},
        {"contains": "New instruction:", "response": ["Say yes always", "Cand 0"]},
        {"default": True, "response": "no", "logprob": -3.0},
    ]
    llm, backend = _scripted(rules)
    cfg = SearchConfig(score="likelihood", max_eval=10, first_budget=5, rounds=2, variations=2)
    res = search(llm, DEMOS, cfg, given=["Planted", "Cand 0", "Cand 1"])
    scoring = [r for r in backend.history if r.continuation is not None]
    assert scoring and all(r.continuation == " yes" for r in scoring)  # the gold output, after "Output:"
    assert not any((r.prompt or "").startswith("Instruction: ") and r.continuation is None for r in backend.history)
    assert res.best.text == "Say yes always" and res.best.score == pytest.approx(-0.05)
    assert {c.text: c.source for c in res.candidates}["Say yes always"] == "variation"
    assert res.score_kind == "likelihood" and res.calls == len(backend.history)


def test_openai_likelihood_through_the_completions_echo():
    """The fake server echoes the prompt with one log-probability per token, as vLLM does; the
    continuation's tokens are picked out by their text offsets."""

    def lp(token: str, before: str) -> float:
        # the answer token is likely only after the planted instruction
        if before.endswith("Output:"):
            return -0.2 if "Instruction: Planted\n" in before else -4.0
        return -1.0

    with FakeOpenAIServer(prompt_logprob=lp) as s:
        llm = LLM("openai:m", BackendOptions(base_url=s.url, api="chat"))
        vals = llm.score(
            [
                Request.raw("Input: a\nOutput:", continuation=" one two"),
                Request.raw("Instruction: Planted\nInput: a\nOutput:", continuation=" yes"),
            ]
        )
        assert vals == [pytest.approx((-4.0 - 1.0) / 2), pytest.approx(-0.2)]
        res = search(llm, DEMOS, SearchConfig(score="likelihood", max_eval=6), given=["Cand 0", "Planted", "Cand 1"])
        llm.close()
    assert res.best.text == "Planted" and res.best.score == pytest.approx(-0.2)


def test_induce_cli_candidates_file_json(tmp_path):
    rules = write_rules(tmp_path / "r.jsonl", _bandit_rules())
    demos = tmp_path / "d.jsonl"
    demos.write_text("".join(json.dumps({"input": x, "output": y}) + "\n" for x, y in DEMOS), encoding="utf-8")
    cands = tmp_path / "c.txt"
    cands.write_text("Cand 0\n\nPlanted\nCand 3\n", encoding="utf-8")
    args = ["induce", "--demos", str(demos), "--model", f"scripted:{rules}", "--candidates", str(cands)]
    r = run_cli(*args, "--search", "ucb", "--json", "--no-cache")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["instruction"] == "Planted" and out["method"] == "ucb" and out["score_kind"] == "execution"
    assert {c["text"] for c in out["candidates"]} == {"Cand 0", "Planted", "Cand 3"}
    assert all({"text", "score", "evaluated"} <= set(c) for c in out["candidates"])
    assert out["calls"] == sum(c["evaluated"] for c in out["candidates"]) > 0
    # likelihood without logprob rules: every example unscorable, reported, not a crash
    r = run_cli(*args, "--score", "likelihood", "--json", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert all(c["score"] == -100.0 for c in json.loads(r.stdout)["candidates"])
    # --search without candidates to score is an error, not a silent greedy run
    r = run_cli("induce", "--demos", str(demos), "--model", f"scripted:{rules}", "--search", "ucb", "--no-cache")
    assert r.returncode == 2 and "--num-candidates" in r.stderr


def test_induce_rounds_without_num_candidates_is_an_error(tmp_path):
    rules = write_rules(tmp_path / "r.jsonl", _bandit_rules())
    demos = tmp_path / "d.jsonl"
    demos.write_text("".join(json.dumps({"input": x, "output": y}) + "\n" for x, y in DEMOS), encoding="utf-8")
    # --rounds asks for the search as --search/--score do: not a silent greedy run
    r = run_cli("induce", "--demos", str(demos), "--model", f"scripted:{rules}", "--rounds", "2", "--no-cache")
    assert r.returncode == 2 and "--num-candidates" in r.stderr and "--rounds" in r.stderr, r.stderr


def test_executor_model_answers_the_execution_prompts(tmp_path):
    """The model under test induces; the fixed executor answers every execution prompt."""
    data = tmp_path / "ii"
    for sub in ("raw/induce", "raw/execute", "annotations"):
        (data / sub).mkdir(parents=True)
    examples = {str(i): {"input": f"w{i}", "output": "WORD"} for i in range(6)}
    (data / "raw" / "execute" / "shout.json").write_text(json.dumps({"examples": examples}))
    (data / "raw" / "induce" / "shout.json").write_text(json.dumps({"examples": examples}))
    (data / "annotations" / "shout.json").write_text(json.dumps({"annotations": ["Uppercase it."]}))
    tested = write_rules(
        tmp_path / "t.jsonl",
        [{"contains": "The instruction I gave", "response": " Shout it"}, {"default": True, "response": "wrong"}],
    )
    fixed = write_rules(tmp_path / "f.jsonl", [{"default": True, "response": "WORD"}])
    base = ["induction", "evaluate", "--data", str(data), "--model", f"scripted:{tested}", "--num-prompts", "1"]
    base += ["--no-bertscore", "--no-cache"]
    log = tmp_path / "calls.jsonl"
    r = run_cli(*base, "--out", str(tmp_path / "o1"), env={"INSTRUCTFORGE_SCRIPTED_LOG": str(log)})
    assert r.returncode == 0, r.stderr
    own = json.loads((tmp_path / "o1" / "results.json").read_text())
    assert own["executor"].startswith("the model under test") and own["executor_model"] == own["model"]
    assert own["tasks"]["shout"]["execution_accuracy"] == 0.0
    r = run_cli(*base, "--out", str(tmp_path / "o2"), "--executor-model", f"scripted:{fixed}")
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "o2" / "results.json").read_text())
    assert res["executor"] == "a fixed execution model" and res["executor_model"] != res["model"]
    t = res["tasks"]["shout"]
    assert t["execution_accuracy"] == 1.0 and t["human_execution_accuracy"] == 1.0
    assert res["model_stats"]["requests"] == 1  # the model under test only induced
    assert res["executor_stats"]["requests"] == 6 * 2  # induced + gold instruction, on every test input
