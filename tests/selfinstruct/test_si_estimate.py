"""``generate --estimate``: a pilot in a temporary dir (its answers left in the call cache), or the
run so far without any model call; the figures scale with the target, the range holds the
expectation, and the real run's totals are compared with it (BENCHMARKS.md has the measurement
at scale)."""

from __future__ import annotations

import json

from si_helpers import run_cli
from test_si_resume import count_lines, setup

from instructforge.selfinstruct.estimate import estimate, wilson


def test_wilson_interval_holds_the_rate():
    lo, hi = wilson(30, 40)
    assert lo < 0.75 < hi and 0 <= lo and hi <= 1
    assert wilson(0, 0) == (0.0, 1.0)


def test_estimate_scales_with_the_target():
    stages = {
        "generate:bootstrap": {"requests": 4, "prompt_tokens": 400, "completion_tokens": 200},
        "generate:classify": {"requests": 10, "cache_hits": 0, "prompt_tokens": 1000, "completion_tokens": 10},
        "generate:instances": {"requests": 10, "prompt_tokens": 2000, "completion_tokens": 500},
    }
    summary = {"accepted": 10, "candidates": 20, "prompts": 4, "tasks_accepted": 9, "tasks_rejected": {"x": 1}}
    a = estimate(stages, summary, 100)
    b = estimate(stages, summary, 1000)
    assert a["steps"]["classify"]["requests"] == 100 and b["steps"]["classify"]["requests"] == 1000
    # 5 candidates per prompt x acceptance 0.5 = 2.5 accepted per prompt
    assert a["steps"]["bootstrap"]["requests"] == 40
    assert a["low"]["total_tokens"] <= a["expected"]["total_tokens"] <= a["high"]["total_tokens"]
    assert a["expected"]["cost"] is None


def test_estimate_from_a_pilot_then_from_the_run_so_far(tmp_path):
    args = setup(tmp_path)
    out = tmp_path / "run"
    env = {"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache"), "INSTRUCTFORGE_SCRIPTED_LOG": str(tmp_path / "a.log")}
    p = run_cli(*args, "--out", str(out), "--estimate", "--pilot", "3", "--price", "1,2", env=env, check=True)
    assert p.stdout.startswith("estimate: ")
    est = json.loads((out / "estimate.json").read_text())
    assert est["sample"] == "pilot" and est["sample_accepted"] >= 3
    assert not (out / "run.sqlite").exists()  # the pilot ran elsewhere
    pilot_calls = count_lines(tmp_path / "a.log")
    assert 0 < pilot_calls < est["expected"]["requests"]
    assert est["expected"]["cost"] > 0
    # the real run: the pilot's answers come back from the cache
    env["INSTRUCTFORGE_SCRIPTED_LOG"] = str(tmp_path / "b.log")
    run_cli(*args, "--out", str(out), env=env, check=True)
    led = json.loads(run_cli("usage", str(out), "--json", check=True).stdout)
    assert led["total"]["cache_hits"] > 0
    real_work = led["total"]["requests"] + led["total"]["cache_hits"]
    assert abs(est["expected"]["requests"] / real_work - 1) < 0.5  # a 3-instruction pilot of a 12-instruction run
    # resuming (here: finished): from the run so far, without a single model call
    env["INSTRUCTFORGE_SCRIPTED_LOG"] = str(tmp_path / "c.log")
    run_cli(*args, "--out", str(out), "--estimate", env=env, check=True)
    assert count_lines(tmp_path / "c.log") == 0
    again = json.loads((out / "estimate.json").read_text())
    assert again["sample"] == "run so far" and again["still_to_spend"]["requests"] <= 3
