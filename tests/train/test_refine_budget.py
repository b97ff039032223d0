"""refine stopped by its --max-total-tokens resumes with the same command (a higher cap): no
"has checkpoints ... pass --resume" (exit 2), the training continues from its last checkpoint."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from conftest import run_cli, write_rules
from instructforge.models.usage import FileSink, Ledger

JUDGE_RULES = [
    {"regex": r"Reply: [A-Ma-m0-9]", "response": "Yes", "top_logprobs": [{"Yes": -0.1, "No": -2.5}]},
    {"default": True, "response": "No", "top_logprobs": [{"No": -0.2, "Yes": -1.9}]},
]


def test_budget_stopped_is_a_stop_in_any_ranks_ledger_of_an_unfinished_run(tmp_path):
    from instructforge.api.train import budget_stopped

    out = tmp_path / "out"
    assert not budget_stopped(out)
    led = Ledger(sink=FileSink(out / "usage.rank1.json"), stage="refine", max_total_tokens=10)
    led.answer("refine", "scripted:x", ok=True, prompt_tokens=8, completion_tokens=1, from_server=False, price=None)
    led.flush(force=True)
    assert not budget_stopped(out)  # spend, no stop
    led.stop_message(3)  # rank 1 stopped (saves the ledger)
    assert budget_stopped(out)
    (out / "refine_summary.json").write_text("{}")  # finished since: a rerun needs --resume again
    assert not budget_stopped(out)


@pytest.mark.slow
def test_refine_stopped_by_its_cap_resumes_with_the_same_command(tmp_path, isolated_cache):
    """2 GRPO steps of 2 prompts x 2 answers, 8 judge calls a step (~340 tokens, measured):
    a cap of 500 stops it in step 2, after checkpoint-1; the same command with a higher cap
    finishes from there (~35 s each on 2 CPU threads)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "refine"))
    from test_rf_train import make_run

    run_dir = make_run(tmp_path / "run")
    rules = write_rules(tmp_path / "judge.jsonl", JUDGE_RULES)
    out = tmp_path / "out"
    args = ["--quiet", "refine", str(run_dir), "--out", str(out), "--judge", f"scripted:{rules}", "--steps", "2"]
    args += ["--num-generations", "2", "--max-completion-length", "8", "--seed", "1"]
    args += ["--set", "prompts_per_step=2", "--set", "policy_demos=0", "--set", "save_steps=1"]
    env = {
        "OMP_NUM_THREADS": "1",
        "INSTRUCTFORGE_THREADS": "1",
        "INSTRUCTFORGE_CACHE_DIR": os.environ["INSTRUCTFORGE_CACHE_DIR"],
    }
    p = run_cli(*args, "--max-total-tokens", "500", env=env)
    assert p.returncode == 3, p.stderr[-3000:]
    assert "budget reached" in p.stderr
    assert (out / "checkpoints" / "checkpoint-1").is_dir() and not (out / "refine_summary.json").exists()
    stopped = json.loads((out / "usage.json").read_text())
    assert stopped["stops"] and stopped["rows"][0]["usage"]["total_tokens"] <= 500
    p = run_cli(*args, "--max-total-tokens", "5000", env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads((out / "refine_summary.json").read_text())
    assert summary["steps"] == 2 and summary["resumed_from"].endswith("checkpoint-1")
    led = json.loads(run_cli("usage", str(out), "--json", check=True).stdout)
    assert led["total"]["total_tokens"] <= 5000 and len(led["stops"]) == 1
    # finished: the same command again is the usual error (a new run would overwrite this one)
    p = run_cli(*args, env=env)
    assert p.returncode == 2 and "--resume" in p.stderr
