"""One implementation of REFINE-AF's feedback serves RL and ``score``: the reward RL gives a
completion with one instance equals the reward ``score`` stores for that instance."""

from __future__ import annotations

import pytest
from sc_helpers import expected, judge_rules

from instructforge.data.records import Instance, Triple
from instructforge.feedback.reward import make_reward_func
from instructforge.quality.config import ScoreConfig
from instructforge.quality.scoring import Item, build_scorer
from instructforge.selfinstruct.instances import InstanceTask


class PipeTask:
    """The task of an "input|output" answer (a stand-in for InstanceTask's parser)."""

    def __init__(self, instruction: str, is_classification: bool):
        pass

    def instances(self, text: str) -> list[Instance]:
        inp, out = text.split("|")
        return [Instance(inp, out)]

    reward = staticmethod(InstanceTask.reward)


def test_sc_rl_reward_and_score_agree(tmp_path, isolated_cache):
    from instructforge.models.client import open_llm

    llm = open_llm(judge_rules(tmp_path / "judge.jsonl"), use_cache=False)
    try:
        scorer, label = build_scorer(llm, None, ScoreConfig())
        triples = [
            Triple("Give an antonym of the word.", "cold", "hot zebra"),
            Triple("Give an antonym of the word.", "up", "down walrus"),
            Triple("Name a color.", "", "Blue."),
        ]
        recs, failed = scorer.score([Item(f"t{i}", 0, t) for i, t in enumerate(triples)])
        rl = make_reward_func(scorer.feedback, PipeTask)
        rewards = rl([f"{t.input}|{t.output}" for t in triples], instruction=[t.instruction for t in triples])
    finally:
        llm.close()
    assert not failed and label.startswith("SUBSTITUTE")
    assert [r.reward for r in recs] == pytest.approx(rewards, abs=1e-12)
    assert [r.reward for r in recs] == pytest.approx(
        [expected(t.instruction, t.input, t.output)["reward"] for t in triples], abs=1e-12
    )
    assert len(set(rewards)) == 3
