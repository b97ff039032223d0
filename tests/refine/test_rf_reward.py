"""REFINE-AF reward: the linear rule, yes/no scoring, prompts, reward-model and UniEval loaders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from instructforge.core.errors import InputError
from instructforge.data.records import Triple
from instructforge.feedback.reward import RewardConfig, combine, make_reward_func, summarize
from instructforge.feedback.scorers import (
    DIMENSIONS,
    JudgeScorer,
    RewardModelScorer,
    UniEvalScorer,
    check_sequence_classifier,
    render_judge_prompt,
    render_unieval_input,
    yes_probability,
)
from instructforge.selfinstruct.instances import InstanceTask

GOLDEN = Path(__file__).parent / "golden"
T = Triple("Give an antonym of the word.", "cold", "hot")
T0 = Triple("Name a primary color.", "", "Red.")


@pytest.mark.parametrize(
    ("rew", "und", "nat", "coh", "expected"),
    [
        (0.0, 0.0, 0.0, 0.0, -0.0274),
        (1.0, 0.0, 0.0, 0.0, -0.0196),
        (0.0, 1.0, 0.0, 0.0, -0.4695),
        (0.0, 0.0, 1.0, 0.0, 0.2938),
        (0.0, 0.0, 0.0, 1.0, 0.1246),
        (2.5, 0.8, 0.6, 0.4, 0.0078 * 2.5 - 0.4421 * 0.8 + 0.3212 * 0.6 + 0.1520 * 0.4 - 0.0274),
        (-3.0, 0.2, 0.9, 0.7, -0.0234 - 0.08842 + 0.28908 + 0.1064 - 0.0274),
    ],
)
def test_rf_linear_rule_golden(rew, und, nat, coh, expected):
    assert combine(rew, und, nat, coh) == pytest.approx(expected, abs=1e-9)


def test_rf_linear_rule_coefficients_are_config():
    cfg = RewardConfig(w_reward_model=1.0, w_understandability=0.0, w_naturalness=0.0, w_coherence=0.0, intercept=0.5)
    assert combine(2.0, 0.9, 0.9, 0.9, cfg) == pytest.approx(2.5)


def test_rf_yes_probability_sums_variants():
    lp = {" yes": math.log(0.3), "Yes": math.log(0.2), "No": math.log(0.25), " no": math.log(0.25), "x": -0.1}
    assert yes_probability(lp) == pytest.approx(0.5)
    assert yes_probability({"YES.": -0.5}) == pytest.approx(1.0)
    assert yes_probability({}) is None
    assert yes_probability({"maybe": -0.1, "nope": -1}) is None


@pytest.mark.parametrize("dim", [*DIMENSIONS, "overall"])
def test_rf_judge_prompt_golden(dim):
    want = (GOLDEN / f"judge_{dim}.txt").read_text()
    assert render_judge_prompt(dim, T) + "\n=====\n" + render_judge_prompt(dim, T0) + "\n" == want


@pytest.mark.parametrize("dim", DIMENSIONS)
def test_rf_unieval_input_golden(dim):
    assert render_unieval_input(dim, T) + "\n" == (GOLDEN / f"unieval_{dim}.txt").read_text()


RULES = [
    {"contains": "natural, fluent", "response": "Yes", "top_logprobs": [{"Yes": -0.2, "No": -1.8, " yes": -3.0}]},
    {"contains": "fit the task", "response": "No", "top_logprobs": [{"No": -0.5, " Yes": -1.0}]},
    {"contains": "easy to understand", "response": "Yes", "top_logprobs": [{"Yes": -0.1, "no": -2.5}]},
    {"contains": "good, helpful", "response": "Hmm", "top_logprobs": [{"Hmm": -0.1}]},
]


def _expected_dims() -> dict[str, float]:
    e = math.exp
    return {
        "naturalness": (e(-0.2) + e(-3.0)) / (e(-0.2) + e(-3.0) + e(-1.8)),
        "coherence": e(-1.0) / (e(-1.0) + e(-0.5)),
        "understandability": e(-0.1) / (e(-0.1) + e(-2.5)),
        "overall": 0.5,  # neither yes nor no among the top tokens -> neutral
    }


@pytest.fixture
def scripted_judge(tmp_path, isolated_cache):
    from conftest import write_rules
    from instructforge.models.client import open_llm

    rules = write_rules(tmp_path / "judge.jsonl", RULES)
    llm = open_llm(f"scripted:{rules}", use_cache=False)
    yield llm
    llm.close()


def test_rf_judge_scorer_scripted(scripted_judge):
    s = JudgeScorer(scripted_judge, [*DIMENSIONS, "overall"])
    got = s.score([T, T0])
    for d, v in _expected_dims().items():
        assert got[d] == pytest.approx([v, v])
    assert s.undecided == 2
    reqs = scripted_judge.backend.history
    assert len(reqs) == 8
    assert all(r.params.max_tokens == 1 and r.params.logprobs == 20 and r.params.temperature == 0 for r in reqs)


def test_rf_reward_func_end_to_end(scripted_judge):
    logged: dict[str, float] = {}
    rows: list = []
    f = make_reward_func(
        [JudgeScorer(scripted_judge, [*DIMENSIONS, "overall"])],
        InstanceTask,
        RewardConfig(unparseable_penalty=-2.0),
        on_batch=rows.extend,
    )
    good = "Example 1\nInput: cold\nOutput: hot\nExample 2\nInput: up\nOutput: down"
    conv = [{"role": "assistant", "content": "Class label: Question\nInput: Is it raining?"}]
    r = f(
        [good, "", conv, "Example 1\nInput: x\nOutput: x"],
        instruction=["Antonym?", "Antonym?", "Q or S?", "Copy"],
        is_classification=[False, False, True, False],
        log_metric=lambda k, v: logged.__setitem__(k, v),
    )
    d = _expected_dims()
    want = combine(d["overall"], d["understandability"], d["naturalness"], d["coherence"])
    assert r == pytest.approx([want, -2.0, want, -2.0])  # input == output is dropped by the step-4 filter
    assert rows[0]["instances"] == 2.0 and rows[1]["parsed"] == 0.0
    assert logged["feedback/parsed"] == pytest.approx(0.5)
    assert logged["feedback/naturalness"] == pytest.approx(d["naturalness"])
    assert logged["feedback/total"] == pytest.approx((2 * want - 4.0) / 4)


def test_rf_summarize_skips_missing():
    assert summarize([{"total": 1.0, "parsed": 1.0}, {"total": 0.0, "parsed": 0.0, "naturalness": 0.5}]) == {
        "total": 0.5,
        "parsed": 0.5,
        "naturalness": 0.5,
    }


def test_rf_not_a_sequence_classifier(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    with pytest.raises(InputError, match="sequence-classification"):
        check_sequence_classifier(tmp_path)


def _tiny_tokenizer(tmp_path: Path):
    """A real (small-vocabulary) tokenizer: the embedded model's, saved next to a tiny model."""
    from transformers import AutoTokenizer

    from instructforge.models.backends.model_files import embedded_model_dir

    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.save_pretrained(tmp_path)
    return tok


def test_rf_reward_model_scorer_tiny_classifier(tmp_path):
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    tok = _tiny_tokenizer(tmp_path)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        num_labels=1,
        pad_token_id=tok.pad_token_id,
    )
    LlamaForSequenceClassification(cfg).save_pretrained(tmp_path)
    s = RewardModelScorer(tmp_path)
    out = s.score([T, T0, Triple("Say hi.", "", "Hello there, nice to meet you.")])
    vals = out["reward_model"]
    assert len(vals) == 3 and all(isinstance(v, float) and math.isfinite(v) for v in vals)
    assert len(set(vals)) > 1  # different texts, different scores


def test_rf_unieval_scorer_tiny_t5(tmp_path):
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tok = _tiny_tokenizer(tmp_path)
    torch.manual_seed(0)
    cfg = T5Config(
        vocab_size=len(tok),
        d_model=16,
        d_ff=32,
        d_kv=8,
        num_layers=1,
        num_heads=2,
        decoder_start_token_id=tok.pad_token_id,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    T5ForConditionalGeneration(cfg).save_pretrained(tmp_path)
    got = UniEvalScorer(tmp_path).score([T, T0])
    assert set(got) == set(DIMENSIONS)
    assert all(0.0 <= v <= 1.0 for vals in got.values() for v in vals)


def test_rf_unieval_rejects_causal_lm(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    with pytest.raises(InputError, match="seq2seq"):
        UniEvalScorer(tmp_path)


@pytest.mark.slow
def test_rf_judge_scorer_embedded(embedded_llm):
    got = JudgeScorer(embedded_llm, [*DIMENSIONS, "overall"]).score([T, T0])
    assert set(got) == {*DIMENSIONS, "overall"}
    assert all(len(v) == 2 and all(0.0 <= x <= 1.0 for x in v) for v in got.values())


def test_rf_doctests():
    import doctest

    import instructforge.feedback.reward as reward
    import instructforge.feedback.scorers as feedback
    import instructforge.train.shared_prefix as shared_prefix

    for mod in (reward, feedback, shared_prefix):
        res = doctest.testmod(mod)
        assert res.attempted > 0 and res.failed == 0, mod.__name__
