"""REFINE-AF RL stage: bad inputs exit 2 (CLI), and a real GRPO + LoRA smoke run with resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli, write_rules
from instructforge.data.store import RunStore

INSTRUCTIONS = [("Give an antonym of the word.", False), ("Decide whether the sentence is a question.", True)]


def make_run(path: Path, items=INSTRUCTIONS) -> Path:
    s = RunStore(path)
    for i, (ins, clf) in enumerate(items):
        s.add("candidate", f"c{i}", {"instruction": ins, "is_classification": clf}, "accepted")
    s.add("candidate", "r", {"instruction": "Draw a map of the town.", "is_classification": False}, "rejected")
    s.close()
    return path


def test_rf_cli_empty_run_exits_2(tmp_path):
    s = RunStore(tmp_path / "run")
    s.add("candidate", "r", {"instruction": "Draw a map.", "is_classification": False}, "rejected")
    s.close()
    p = run_cli("refine", str(tmp_path / "run"), "--out", str(tmp_path / "out"))
    assert p.returncode == 2, p.stderr
    assert "no accepted instructions" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_rf_cli_not_a_run_dir_exits_2(tmp_path):
    p = run_cli("refine", str(tmp_path / "nothing"), "--out", str(tmp_path / "out"))
    assert p.returncode == 2 and "not a run directory" in p.stderr


def test_rf_cli_reward_model_not_a_classifier_exits_2(tmp_path):
    from instructforge.models.backends.model_files import embedded_model_dir

    run = make_run(tmp_path / "run")
    p = run_cli("refine", str(run), "--out", str(tmp_path / "out"), "--reward-model", f"hf:{embedded_model_dir()}")
    assert p.returncode == 2, p.stderr
    assert "sequence-classification" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_rf_cli_bad_config_field_exits_2(tmp_path):
    run = make_run(tmp_path / "run")
    (tmp_path / "c.yaml").write_text("num_generation: 3\n")
    p = run_cli("refine", str(run), "--out", str(tmp_path / "out"), "--config", str(tmp_path / "c.yaml"))
    assert p.returncode == 2 and "num_generation" in p.stderr


# The judge gives answers that depend on the reply, so that rewards differ within a group
# (GRPO's advantage is zero when every answer of a prompt gets the same reward).
JUDGE_RULES = [
    {"regex": r"Reply: [A-Ma-m0-9]", "response": "Yes", "top_logprobs": [{"Yes": -0.1, "No": -2.5}]},
    {"default": True, "response": "No", "top_logprobs": [{"No": -0.2, "Yes": -1.9}]},
]


def _lora_tensors(d: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(d / "adapter_model.safetensors"))


@pytest.fixture
def scripted_judge(tmp_path):
    from instructforge.models.client import open_llm

    rules = write_rules(tmp_path / "judge.jsonl", JUDGE_RULES)
    llm = open_llm(f"scripted:{rules}", use_cache=False)
    yield llm
    llm.close()


@pytest.mark.slow
def test_rf_grpo_smoke_and_resume(tmp_path, isolated_cache, scripted_judge):
    """2 GRPO steps on the embedded model with LoRA, then --resume to 3 steps (one more)."""
    from instructforge.feedback.scorers import DIMENSIONS, JudgeScorer
    from instructforge.train.refine import refine
    from instructforge.train.refine_config import RefineConfig

    run = make_run(tmp_path / "run")
    llm = scripted_judge
    scorers = [JudgeScorer(llm, [*DIMENSIONS, "overall"])]
    out = tmp_path / "out"
    cfg = RefineConfig(
        steps=2,
        prompts_per_step=2,
        num_generations=3,
        max_completion_length=12,
        temperature=1.0,
        policy_demos=0,
        save_steps=1,
        learning_rate=1e-3,
        seed=1,
    )
    s = refine(run, out, model="embedded", scorers=scorers, cfg=cfg)
    assert s["steps"] == 2
    log = [json.loads(x) for x in (out / "reward_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]
    for r in log:
        assert {"total", "overall", "naturalness", "coherence", "understandability", "parsed"} <= set(r)
    curve = json.loads((out / "reward_curve.json").read_text())
    assert curve["step"] == [1, 2] and len(curve["total"]) == 2
    assert curve["reward_model_source"] == "judge substitute"
    # the adapter trained: LoRA B starts at zero, and checkpoints 1 and 2 differ
    ck1, final = _lora_tensors(out / "checkpoints" / "checkpoint-1"), _lora_tensors(out)
    assert any(float(v.abs().sum()) > 0 for k, v in final.items() if "lora_B" in k)
    assert any(not (ck1[k] == final[k]).all() for k in final)
    cfgj = json.loads((out / "adapter_config.json").read_text())
    assert Path(cfgj["base_model_name_or_path"]).is_dir()
    assert (out / "config.yaml").is_file() and (out / "tokenizer_config.json").is_file()

    from instructforge.core.errors import InputError

    with pytest.raises(InputError, match="--resume"):
        refine(run, out, model="embedded", scorers=scorers, cfg=cfg)
    # resume: a third step continues from checkpoint-2
    cfg.steps = 3
    s2 = refine(run, out, model="embedded", scorers=scorers, cfg=cfg, resume=True)
    assert s2["resumed_from"].endswith("checkpoint-2") and s2["steps"] == 3
    log = [json.loads(x) for x in (out / "reward_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3]

    # the adapter dir loads as a model everywhere: --model hf:DIR
    from instructforge.models.backends.local import load_hf_model

    model, tok = load_hf_model(out)
    assert model is not None and tok is not None


@pytest.mark.slow
@pytest.mark.parametrize("algo,shared", [("rloo", True), ("grpo", False)])
def test_rf_one_step_rloo_and_trl_own_path(tmp_path, isolated_cache, scripted_judge, monkeypatch, algo, shared):
    """RLOO through the shared-prefix trainer, and GRPO through TRL's unchanged code paths."""
    from instructforge.feedback.scorers import DIMENSIONS, JudgeScorer
    from instructforge.train import shared_prefix as sp
    from instructforge.train.refine import refine
    from instructforge.train.refine_config import RefineConfig

    calls = {"generate": 0, "logps": 0}

    def counted(name, fn):
        def wrapper(*a, **k):
            calls[name] += 1
            return fn(*a, **k)

        return wrapper

    monkeypatch.setattr(sp, "shared_prefix_generate", counted("generate", sp.shared_prefix_generate))
    monkeypatch.setattr(sp, "shared_prefix_logps", counted("logps", sp.shared_prefix_logps))
    run = make_run(tmp_path / "run")
    cfg = RefineConfig(
        algo=algo,
        shared_prefix=shared,
        steps=1,
        prompts_per_step=2,
        num_generations=2,
        max_completion_length=10,
        temperature=1.0,
        policy_demos=0,
        learning_rate=1e-3,
        seed=2,
    )
    out = tmp_path / "out"
    s = refine(run, out, model="embedded", scorers=[JudgeScorer(scripted_judge, [*DIMENSIONS, "overall"])], cfg=cfg)
    assert s["steps"] == 1
    row = json.loads((out / "reward_log.jsonl").read_text().splitlines()[0])
    assert 0 < row["mean_length"] <= 10 and {"total", "kl", "loss"} <= set(row)
    # shared: one sampling call; log-probs for the reference (KL) and the policy, and RLOO also scores the
    # sampling policy ("old" log-probs) every step. Not shared: TRL's own code throughout.
    assert calls == ({"generate": 1, "logps": 3} if shared else {"generate": 0, "logps": 0})
    assert (out / "adapter_model.safetensors").is_file()
