"""refine's settings: RefineConfig (+ reward.*) from flags, --set and config files, checked
before anything is written; the CLI runs api.train.refine with the same settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from test_rf_train import JUDGE_RULES, make_run

from conftest import run_cli, write_rules
from instructforge.core.errors import InputError
from instructforge.core.settings import as_dict
from instructforge.feedback.reward import RewardConfig
from instructforge.train.refine_config import RefineConfig


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "steps: 3\nnum_generation: 3\n",
            2,
            "unknown setting 'num_generation' for refine (did you mean 'num_generations'?)",
        ),
        ("algo: grpo\nsteps: '3'\n", 2, "steps: expected integer, got the text '3'"),
        ("algo: ppo\n", 1, "algo: the text 'ppo' is not one of grpo, rloo"),
        ("steps: 2\nnum_generations: 1\n", 2, "num_generations: 1 is out of range [2, inf]"),
        ("temperature: 0\n", 1, "temperature: 0 is out of range (0, 2]"),
        ("steps: 2\nreward.max_triples: 0\n", 2, "reward.max_triples: 0 is out of range [1, inf]"),
        ("reward.w_naturalness: high\n", 1, "reward.w_naturalness: expected number, got the text 'high'"),
        (
            "refine:\n  steps: 2\n  reward.w_coherense: 1\n",
            3,
            "unknown setting 'reward.w_coherense' for refine (did you mean 'reward.w_coherence'?)",
        ),
    ],
)
def test_rf_config_file_errors_name_file_and_line(tmp_path, text, line, message):
    run = make_run(tmp_path / "run")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    p = run_cli("refine", str(run), "--out", str(tmp_path / "out"), "--config", str(cfg))
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == f"error: {cfg}:{line}: {message}"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "steps: 2\nreward:\n  w_naturalness: 0.5\n  max_triples: 0\n",
            "reward.max_triples: 0 is out of range [1, inf]",
        ),
        ("reward:\n  w_naturalness: [1]\n", "reward.w_naturalness: expected number, got [1]"),
        (
            "reward:\n  w_naturalnes: 1\n",
            "unknown setting 'reward.w_naturalnes' for refine (did you mean 'reward.w_naturalness'?)",
        ),
    ],
)
def test_rf_nested_reward_section_errors(tmp_path, text, message):
    """``reward:`` as a nested mapping; the line is the section's or the key's (config.py)."""
    run = make_run(tmp_path / "run")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    p = run_cli("refine", str(run), "--out", str(tmp_path / "out"), "--config", str(cfg))
    assert p.returncode == 2, p.stderr
    assert re.fullmatch(rf"error: {re.escape(str(cfg))}:\d+: {re.escape(message)}", p.stderr.strip()), p.stderr
    assert not (tmp_path / "out").exists()


def test_rf_bad_flag_and_set_values_exit_2(tmp_path):
    run = make_run(tmp_path / "run")
    out = tmp_path / "out"
    p = run_cli("refine", str(run), "--out", str(out), "--kl-coef", "-1")
    assert p.returncode == 2 and p.stderr.strip() == "error: --kl-coef -1: beta: -1 is out of range [0, inf]"
    p = run_cli("refine", str(run), "--out", str(out), "--set", "reward.max_triples=0")
    assert p.returncode == 2
    assert p.stderr.strip() == "error: --set reward.max_triples=0: reward.max_triples: 0 is out of range [1, inf]"
    p = run_cli("refine", str(run), "--out", str(out), "--model", "openai:gpt")
    assert p.returncode == 2 and "refine trains a local model" in p.stderr
    assert not out.exists()


def test_rf_python_config_is_checked_too():
    with pytest.raises(InputError, match=r"RefineConfig: num_generations: 1 is out of range \[2, inf\]"):
        RefineConfig(num_generations=1)
    with pytest.raises(InputError, match=r"RewardConfig: max_triples: 0 is out of range"):
        RefineConfig(reward={"max_triples": 0})
    with pytest.raises(InputError, match="RefineConfig: reward: .*'w_nat'"):
        RefineConfig(reward={"w_nat": 1.0})
    with pytest.raises(InputError, match="RewardConfig: w_naturalness: expected number"):
        RewardConfig(w_naturalness="0.3")
    cfg = RefineConfig(reward={"w_naturalness": 1}, unieval="some/dir")
    assert cfg.reward.w_naturalness == 1.0 and isinstance(cfg.reward.w_naturalness, float)
    assert as_dict(cfg)["unieval"] == "some/dir"


class _Stop(Exception):
    pass


@pytest.fixture
def captured(monkeypatch):
    """What the CLI passes to api.train.refine (the call stops there: nothing is trained)."""
    import instructforge.api.train as api

    calls: list[dict] = []

    def record(run_dir, *, out, model="embedded", config=None, resume=False, **judge_options):
        judge = api.judge_config(config, judge_options)
        calls.append({"model": model, "resume": resume, "config": as_dict(config), "judge": judge.public()})
        raise _Stop

    monkeypatch.setattr(api, "refine", record)
    return calls


def _invoke(*args: str) -> None:
    from instructforge.cli.main import cli

    r = CliRunner().invoke(cli, list(args))
    assert isinstance(r.exception, _Stop), r.output


def test_rf_flags_set_and_config_file_resolve_alike(tmp_path, captured):
    run = str(tmp_path / "run")
    _invoke(
        "refine",
        run,
        "--out",
        "o",
        "--steps",
        "7",
        "--kl-coef",
        "1e-1",
        "--algo",
        "rloo",
        "--judge",
        "openai:judge",
        "--judge-base-url",
        "http://judge/v1",
        "--no-cache",
        "--concurrency",
        "4",
    )
    _invoke(
        "refine",
        run,
        "--out",
        "o",
        "--set",
        "steps=7",
        "--set",
        "beta=0.1",
        "--set",
        "algo=rloo",
        "--set",
        "judge=openai:judge",
        "--set",
        "judge_base_url=http://judge/v1",
        "--set",
        "cache=false",
        "--set",
        "concurrency=4",
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "steps: 7\nbeta: 0.1\nalgo: rloo\njudge: openai:judge\njudge_base_url: http://judge/v1\n"
        "cache: false\nconcurrency: 4\n"
    )
    _invoke("refine", run, "--out", "o", "--config", str(cfg))
    assert captured[0] == captured[1] == captured[2]
    c = captured[0]
    assert c["config"]["steps"] == 7 and c["config"]["beta"] == 0.1 and c["config"]["algo"] == "rloo"
    assert c["judge"]["model"] == "openai:judge" and c["judge"]["base_url"] == "http://judge/v1"
    assert c["judge"]["cache"] is False and c["judge"]["concurrency"] == 4 and c["model"] == "embedded"


def test_rf_nested_reward_from_every_source(tmp_path, captured):
    run = str(tmp_path / "run")
    nested, dotted = tmp_path / "n.yaml", tmp_path / "d.yaml"
    nested.write_text("reward:\n  w_naturalness: 0.5\n  max_triples: 2\n")
    dotted.write_text("reward.w_naturalness: 0.5\nreward.max_triples: 2\n")
    _invoke("refine", run, "--out", "o", "--config", str(nested))
    _invoke("refine", run, "--out", "o", "--config", str(dotted))
    _invoke("refine", run, "--out", "o", "--set", "reward.w_naturalness=0.5", "--set", "reward.max_triples=2")
    assert captured[0] == captured[1] == captured[2]
    assert captured[0]["config"]["reward"] == as_dict(RewardConfig(w_naturalness=0.5, max_triples=2))


def test_rf_precedence(tmp_path, captured):
    """defaults < global --config < the command's --config < --set < flags."""
    run = str(tmp_path / "run")
    glob, own = tmp_path / "g.yaml", tmp_path / "o.yaml"
    glob.write_text("refine:\n  steps: 2\n  seed: 2\n  save_steps: 2\n  lora_r: 2\n")
    own.write_text("steps: 3\nseed: 3\nsave_steps: 3\n")
    _invoke(
        "--config",
        str(glob),
        "refine",
        run,
        "--out",
        "o",
        "--config",
        str(own),
        "--set",
        "steps=4",
        "--set",
        "seed=4",
        "--seed",
        "5",
    )
    c = captured[0]["config"]
    assert (c["lora_r"], c["save_steps"], c["steps"], c["seed"]) == (2, 3, 4, 5)
    assert c["learning_rate"] == RefineConfig().learning_rate


def test_rf_api_checks_before_writing(tmp_path):
    from instructforge.api.train import refine

    run = make_run(tmp_path / "run")
    out = tmp_path / "out"
    with pytest.raises(InputError, match="refine trains a local model"):
        refine(run, out=out, model="openai:gpt")
    with pytest.raises(InputError, match="reward model directory not found"):
        refine(run, out=out, config=RefineConfig(reward_model=f"hf:{tmp_path / 'nope'}"))
    with pytest.raises(InputError, match="not a model dir"):
        refine(run, out=out, config=RefineConfig(unieval=tmp_path))
    with pytest.raises(TypeError, match="unknown model option.*spped"):
        refine(run, out=out, cache=False, spped=2)
    assert not out.exists()


def test_rf_judge_client_options():
    from instructforge.api.train import judge_config

    j = judge_config(RefineConfig(judge="openai:j"), {"base_url": "http://a/v1", "concurrency": 3})
    assert (j.model, j.base_url, j.concurrency) == ("openai:j", "http://a/v1", 3)
    j = judge_config(RefineConfig(judge="openai:j", judge_base_url="http://b/v1"), {"base_url": "http://a/v1"})
    assert j.base_url == "http://b/v1"
    with pytest.raises(TypeError, match="RefineConfig.judge"):
        judge_config(RefineConfig(), {"model": "openai:j"})


@pytest.mark.slow
def test_rf_cli_runs_the_api(tmp_path, isolated_cache):
    """The same settings through the CLI and through api.train.refine: the same config.yaml."""
    from instructforge.api.train import refine
    from instructforge.core import ui

    run = make_run(tmp_path / "run")
    rules = write_rules(tmp_path / "judge.jsonl", JUDGE_RULES)
    settings = dict(
        steps=1,
        prompts_per_step=2,
        num_generations=2,
        max_completion_length=8,
        policy_demos=0,
        temperature=1.0,
        learning_rate=1e-3,
        seed=3,
        judge=f"scripted:{rules}",
    )
    p = run_cli(
        "--quiet",
        "refine",
        str(run),
        "--out",
        str(tmp_path / "cli"),
        "--steps",
        "1",
        "--set",
        "prompts_per_step=2",
        "--num-generations",
        "2",
        "--max-completion-length",
        "8",
        "--set",
        "policy_demos=0",
        "--set",
        "temperature=1",
        "--lr",
        "1e-3",
        "--seed",
        "3",
        "--judge",
        f"scripted:{rules}",
        "--no-cache",
        env={"INSTRUCTFORGE_THREADS": "2"},
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == str(tmp_path / "cli")
    was_quiet = ui.is_quiet()
    ui.set_quiet(True)
    try:
        out = refine(run, out=tmp_path / "api", config=RefineConfig(**settings), cache=False)
    finally:
        ui.set_quiet(was_quiet)
    assert out == tmp_path / "api" and (out / "adapter_model.safetensors").is_file()
    cli_cfg = yaml.safe_load((tmp_path / "cli" / "config.yaml").read_text())
    api_cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cli_cfg == api_cfg
    assert cli_cfg["steps"] == 1 and cli_cfg["judge_model"]["cache"] is False and cli_cfg["reward"]["max_triples"] == 5
    for d in (tmp_path / "cli", out):
        assert json.loads((d / "refine_summary.json").read_text())["steps"] == 1
    assert Path(json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]).is_dir()
