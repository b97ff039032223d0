"""The CLI shell: --version, --help on every subcommand, one-line errors with exit 2."""

from __future__ import annotations

import pytest

from conftest import run_cli
from instructforge import __version__
from instructforge.cli.main import COMMANDS


def test_version():
    p = run_cli("--version")
    assert p.returncode == 0 and __version__ in p.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_help(name):
    p = run_cli(name, "--help")
    assert p.returncode == 0, p.stderr
    assert "Usage:" in p.stdout


def test_unknown_model_spec_is_one_line_exit_2():
    p = run_cli("ask", "--model", "gpt5-please", "hi")
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert "unknown model spec 'gpt5-please'" in lines[0]
    for form in ("embedded", "hf:DIR", "openai:MODEL", "vllm:DIR", "scripted:FILE"):
        assert form in lines[0]


def test_missing_hf_dir_is_input_error(tmp_path):
    p = run_cli("ask", "--model", f"hf:{tmp_path / 'nope'}", "hi")
    assert p.returncode == 2
    assert "model directory not found" in p.stderr


def test_bad_scripted_file_names_file_and_line(tmp_path):
    f = tmp_path / "rules.jsonl"
    f.write_text('{"default": true, "response": "ok"}\n{not json}\n')
    p = run_cli("ask", "--model", f"scripted:{f}", "hi")
    assert p.returncode == 2
    assert f"{f}:2: not valid JSON" in p.stderr


def test_unknown_option_is_usage_error():
    p = run_cli("ask", "--no-such-flag", "hi")
    assert p.returncode == 2


def test_config_file_sets_option_defaults(tmp_path):
    rules = tmp_path / "r.jsonl"
    rules.write_text('{"contains": "hello", "response": "one two three four five"}\n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"ask:\n  model: scripted:{rules}\n  max-tokens: 2\n  cache: false\n")
    p = run_cli("--config", str(cfg), "ask", "hello")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "one two"
    p = run_cli("--config", str(cfg), "ask", "--max-tokens", "4", "hello")  # the flag wins
    assert p.stdout.strip() == "one two three four"


def test_bad_yaml_config_names_file_and_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ask:\n  model: embedded\n  max_tokens: [1, 2\n")
    p = run_cli("--config", str(cfg), "ask", "hi")
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {cfg}:") and "bad YAML" in lines[0]


def test_config_with_unknown_command(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("generat:\n  num_instructions: 3\n")
    p = run_cli("--config", str(cfg), "ask", "hi")
    assert p.returncode == 2 and "c.yaml:1: unknown command 'generat' in config (did you mean 'generate'?)" in p.stderr
