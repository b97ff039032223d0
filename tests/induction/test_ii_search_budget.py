"""benchmarks/induction_search.py: the three search arms spend the same evaluation budget per
task (24 scored pairs with 4 distinct proposals) and one request per scoring prompt."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from instructforge.induction.search import search
from instructforge.models.backends.scripted import ScriptedBackend
from instructforge.models.client import LLM
from instructforge.models.executors import LocalExecutor

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "induction_search.py"
SEARCH_ARMS = ("b_halving_execution", "c_ucb_execution", "d_ucb_likelihood")
DEMOS = [(str(n), "yes") for n in range(20)]  # 8 held out, 12 in the proposal pool
PROPOSALS = [" Answer yes", " Answer no", " Say yes to odd numbers", " Reply with the number"]
RULES = [
    {"contains": "The instruction I gave my friend was", "response": PROPOSALS},
    # an answer blank before its first newline: with early_stop it would be decoded twice
    {"contains": "Instruction: Answer yes\n", "response": "\nyes", "logprob": -0.1},
    {"regex": r"Instruction: Say yes to odd numbers\nInput: \d*[13579]\nOutput:", "response": "yes", "logprob": -0.5},
    {"default": True, "response": "no", "logprob": -3.0},
]


def _bench():
    spec = importlib.util.spec_from_file_location("induction_search_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(arm: str, given: list[str] | None = None):
    cfg = _bench().arm_config(arm, max_test=10, num_candidates=4)
    backend = ScriptedBackend(RULES)
    llm = LLM("embedded", executor=LocalExecutor(lambda: backend))
    res = search(llm, DEMOS, cfg.search, cfg.induce, cfg.execute_config(), given=given)
    return res, backend


@pytest.mark.parametrize("arm", SEARCH_ARMS)
def test_every_search_arm_scores_24_pairs_with_one_request_each(arm):
    res, backend = _run(arm)
    assert len(res.candidates) == 4
    assert sum(c.evaluated for c in res.candidates) == 24
    # 4 proposals + 24 scoring prompts, every one a single request (no re-decodes)
    assert res.calls == len(backend.history) == 4 + 24


def test_the_arms_share_one_execution_config():
    bench = _bench()
    cfgs = [bench.arm_config(arm, 10, 4) for arm in bench.ARMS]
    assert all(c.execute.early_stop is False for c in cfgs)
    assert len({(c.execute.max_tokens, c.execute.temperature) for c in cfgs}) == 1


@pytest.mark.parametrize(("n", "halving", "ucb"), [(3, 20, 12), (2, 12, 12), (1, 8, 8)])
def test_budget_with_fewer_distinct_candidates_is_the_documented_one(n, halving, ucb):
    given = [p.strip() for p in PROPOSALS[:n]]
    for arm, want in (("b_halving_execution", halving), ("c_ucb_execution", ucb), ("d_ucb_likelihood", ucb)):
        res, backend = _run(arm, given)
        assert sum(c.evaluated for c in res.candidates) == want, arm
        assert res.calls == len(backend.history) == want, arm
