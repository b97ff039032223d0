"""Settings of ``instructforge score``: a bad --config exits 2 naming the file and line before
anything is written; a flag, --set and a config file resolve to the same config.yaml; the Python
API (instructforge.api.evaluate.score) stores and writes what the CLI does."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from sc_helpers import N_INSTANCES, judge_rules, make_run, score_rows, tree

from conftest import run_cli
from instructforge.api.evaluate import score
from instructforge.core.errors import InputError
from instructforge.feedback.reward import RewardConfig
from instructforge.quality.config import ScoreConfig


@pytest.mark.parametrize(
    "text,line,msg",
    [
        ("chunk_size: 4\nthreshhold: 0.5\n", 2, "unknown setting 'threshhold' for score (did you mean 'threshold'?)"),
        ("chunk_size: 4\nthreshold: high\n", 2, "threshold: expected number, got the text 'high'"),
        ("chunk_size: 4\nthreshold: 1.5\n", 2, "threshold: 1.5 is out of range [0, 1]"),
        ("chunk_size: 0\n", 1, "chunk_size: 0 is out of range [1, inf]"),
        # a nested setting is named by its dotted name, at its own line
        ("chunk_size: 4\nreward:\n  w_naturalness: x\n", 3, "reward.w_naturalness: expected number, got the text 'x'"),
    ],
)
def test_bad_config_exits_2_with_file_and_line_nothing_written(tmp_path, text, line, msg):
    run = make_run(tmp_path / "run")
    before = tree(run)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(text)
    p = run_cli("score", str(run), "--judge", judge_rules(tmp_path / "j.jsonl"), "--config", str(cfg))
    assert p.returncode == 2 and p.stderr.strip() == f"error: {cfg}:{line}: {msg}", p.stderr
    assert tree(run) == before


def test_bad_values_from_python_name_the_class_and_field():
    with pytest.raises(InputError, match=re.escape("ScoreConfig: threshold: 2 is out of range [0, 1]")):
        ScoreConfig(threshold=2)
    with pytest.raises(InputError, match="ScoreConfig: repeat_lines: 1 is out of range"):
        ScoreConfig(repeat_lines=1)
    with pytest.raises(InputError, match="ScoreConfig: reward: .*w_bogus"):
        ScoreConfig(reward={"w_bogus": 1.0})
    assert ScoreConfig(reward={"w_naturalness": 1.0}).reward == RewardConfig(w_naturalness=1.0)


def test_who_scores_is_not_part_of_the_scoring_fingerprint():
    # the judge and the reward model enter the fingerprint by their identity, so a stored score
    # made before they were settings stays current
    assert set(ScoreConfig().scoring_fields()) == {
        "threshold",
        "top_logprobs",
        "repeat_lines",
        "truncation_min_words",
        "echo_min_words",
        "language_min_words",
        "reward",
    }


def test_flag_set_and_file_give_the_same_config(tmp_path, isolated_cache):
    judge = judge_rules(tmp_path / "j.jsonl")
    (tmp_path / "cfg.yaml").write_text(f"judge: '{judge}'\nthreshold: 0.7\nreward:\n  w_naturalness: 0.5\n")
    ways = {
        "flags": ["--judge", judge, "--threshold", "0.7", "--set", "reward.w_naturalness=0.5"],
        "set": ["--set", f"judge={judge}", "--set", "threshold=0.7", "--set", "reward.w_naturalness=0.5"],
        "file": ["--config", str(tmp_path / "cfg.yaml")],
        "model": ["--model", judge, "--threshold", "0.7", "--set", "reward.w_naturalness=0.5"],
    }
    seen = {}
    for name, extra in ways.items():
        run = make_run(tmp_path / name)
        run_cli("score", str(run), *extra, check=True)
        cfg = yaml.safe_load((run / "score" / "config.yaml").read_text())
        assert cfg.pop("run_dir") == str(run)
        seen[name] = (cfg, (run / "score" / "scores.jsonl").read_text())
    assert seen["flags"] == seen["set"] == seen["file"] == seen["model"]
    cfg = seen["flags"][0]
    assert cfg["score"]["threshold"] == 0.7 and cfg["score"]["reward"]["w_naturalness"] == 0.5
    assert cfg["score"]["judge"] == cfg["judge"]["model"] == judge


def test_api_equals_cli(tmp_path, isolated_cache):
    judge = judge_rules(tmp_path / "j.jsonl")
    cli_run, api_run = make_run(tmp_path / "cli"), make_run(tmp_path / "api")
    run_cli("score", str(cli_run), "--judge", judge, "--chunk-size", "4", check=True)
    res = score(api_run, model=judge, config=ScoreConfig(chunk_size=4))
    assert res["counts"] == {"items": N_INSTANCES, "stored": 0, "scored": N_INSTANCES, "failed": 0}
    assert res["out"] == str(api_run / "score") and res["rew_source"].startswith("SUBSTITUTE")
    for name in ("scores.jsonl", "summary.json"):
        assert (api_run / "score" / name).read_text() == (cli_run / "score" / name).read_text()
    assert res["summary"] == json.loads((cli_run / "score" / "summary.json").read_text())
    cli_cfg, api_cfg = (yaml.safe_load((r / "score" / "config.yaml").read_text()) for r in (cli_run, api_run))
    assert cli_cfg.pop("run_dir") != api_cfg.pop("run_dir") and cli_cfg == api_cfg
    assert [p for _, p in sorted(score_rows(cli_run).items())] == [p for _, p in sorted(score_rows(api_run).items())]
    # the judge through ScoreConfig works the same; two different judges are refused before any write
    again = score(api_run, config=ScoreConfig(judge=judge, chunk_size=4))
    assert again["counts"]["stored"] == N_INSTANCES
    before = tree(api_run)
    with pytest.raises(InputError, match="two judges"):
        score(api_run, model="hf:/elsewhere", config=ScoreConfig(judge=judge))
    with pytest.raises(InputError, match="one of them"):
        score(model=judge)
    assert tree(api_run) == before
