"""The configuration system (config.py, cli_config.py) through the real CLI: every config error
of issue 13 (unknown key, wrong type, out of range; in the global and in the command's file)
exits 2 with the file and line and writes nothing; the four ways to set a value resolve in
order; Python callers get the same checks; `config show` lists every field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import run_cli, write_rules

RULES = [
    {
        "contains": "Continue the list",
        "response": "Name three rivers in Europe and their lengths.\n10. Translate a greeting into French and German.",
    },
    {"regex": r"\nIs it classification\?$", "response": " No"},
    {"contains": "Write examples", "response": "Example 1\nInput: x\nOutput: y"},
]


@pytest.fixture
def scripted(tmp_path, isolated_cache) -> Path:
    return write_rules(tmp_path / "rules.jsonl", RULES)


def gen(tmp_path: Path, rules: Path, *extra: str, pre: tuple[str, ...] = (), out: str = "run"):
    return run_cli(
        "--quiet",
        *pre,
        "generate",
        "--out",
        str(tmp_path / out),
        "--num-instructions",
        "2",
        "--model",
        f"scripted:{rules}",
        *extra,
    )


def one_error_line(p) -> str:
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    return lines[0]


@pytest.mark.parametrize(
    "body,line,expect",
    [
        (
            "num_instructions: 2\nrouge_treshold: 0.1\n",
            2,
            "unknown setting 'rouge_treshold' for generate (did you mean 'rouge_threshold'?)",
        ),
        ('rouge_threshold: "0.1"\n', 1, "rouge_threshold: expected number, got the text '0.1'"),
        ("seed: 1\nrouge_threshold: 1.5\n", 2, "rouge_threshold: 1.5 is out of range [0, 1]"),
        ("mode: alpacca\n", 1, "mode: the text 'alpacca' is not one of selfinstruct, alpaca"),
        ('bootstrap_stop: "\\n\\n"\n', 1, "bootstrap_stop: expected list of text, got the text '\\n\\n'"),
        ("concurrency: many\n", 1, "concurrency: expected integer | 'auto', got the text 'many'"),
    ],
)
def test_command_config_errors_name_file_line_and_write_nothing(tmp_path, scripted, body, line, expect):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(body)
    err = one_error_line(gen(tmp_path, scripted, "--config", str(cfg)))
    assert err == f"error: {cfg}:{line}: {expect}"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "body,expect",
    [
        ("generate:\n  rouge_threshold: 1.5\n", ":2: rouge_threshold: 1.5 is out of range [0, 1]"),
        ("generate:\n  seed: 1\n  rouge_threshold: '0.1'\n", ":3: rouge_threshold: expected number"),
        ("ask:\n  max_tokenz: 4\n", ":2: unknown setting 'max_tokenz' for ask (did you mean 'max_tokens'?)"),
        ("evaluate:\n  supernii: {max_tokens: 3}\n", ": unknown command"),
        ("generat:\n  num_instructions: 3\n", ":1: unknown command 'generat' in config (did you mean 'generate'?)"),
    ],
)
def test_global_config_errors_are_caught_whatever_command_runs(tmp_path, scripted, body, expect):
    cfg = tmp_path / "g.yaml"
    cfg.write_text(body)
    err = one_error_line(gen(tmp_path, scripted, pre=("--config", str(cfg))))
    assert err.startswith(f"error: {cfg}") and expect in err
    assert not (tmp_path / "run").exists()


def resolved(tmp_path: Path, out: str = "run") -> dict:
    return yaml.safe_load((tmp_path / out / "config.yaml").read_text())["generate"]


def test_global_section_is_applied_and_precedence(tmp_path, scripted):
    glob = tmp_path / "g.yaml"
    glob.write_text("generate:\n  rouge_threshold: 0.1\n  min_words: 2\n  max_words: 40\n  seed: 4\n")
    own = tmp_path / "own.yaml"
    own.write_text("min_words: 3\nmax_words: 50\nseed: 5\n")
    p = gen(
        tmp_path,
        scripted,
        "--config",
        str(own),
        "--set",
        "max_words=60",
        "--set",
        "seed=6",
        "--seed",
        "7",
        pre=("--config", str(glob)),
    )
    assert p.returncode == 0, p.stderr
    r = resolved(tmp_path)
    # global < the command's file < --set < flag
    assert (r["rouge_threshold"], r["min_words"], r["max_words"], r["seed"]) == (0.1, 3, 60, 7)


def test_flag_set_and_file_resolve_alike(tmp_path, scripted):
    cfg = tmp_path / "c.yaml"
    cfg.write_text('rouge_threshold: 0.5\nbootstrap_stop: ["\\n\\n", "END"]\n')
    runs = {
        "flag": ("--rouge-threshold", "0.5", "--set", 'bootstrap_stop=["\\n\\n", END]'),
        "set": ("--set", "rouge_threshold=0.5", "--set", 'bootstrap_stop=["\\n\\n", END]'),
        "file": ("--config", str(cfg)),
    }
    got = {}
    for name, extra in runs.items():
        p = gen(tmp_path, scripted, *extra, out=name)
        assert p.returncode == 0, p.stderr
        got[name] = resolved(tmp_path, name)
    assert got["flag"] == got["set"] == got["file"]
    assert got["file"]["rouge_threshold"] == 0.5 and got["file"]["bootstrap_stop"] == ["\n\n", "END"]


def test_set_errors(tmp_path, scripted):
    assert "--set seed: expected name=value" in one_error_line(gen(tmp_path, scripted, "--set", "seed"))
    err = one_error_line(gen(tmp_path, scripted, "--set", "rouge_threshold=high"))
    assert err == "error: --set rouge_threshold=high: rouge_threshold: expected number, got the text 'high'"
    err = one_error_line(gen(tmp_path, scripted, "--set", "modell=embedded"))
    assert "unknown setting 'modell' for generate (did you mean 'model'?)" in err
    err = one_error_line(gen(tmp_path, scripted, "--rouge-threshold", "2"))
    assert err == "error: --rouge-threshold 2: rouge_threshold: 2 is out of range [0, 1]"
    assert not (tmp_path / "run").exists()


def test_text_settings_keep_their_text(tmp_path, scripted):
    p = run_cli(
        "ask",
        "--model",
        f"scripted:{scripted}",
        "--stop",
        "16.",
        "--set",
        "system=yes",
        "--max-tokens",
        "3",
        "Continue the list",
    )
    assert p.returncode == 0, p.stderr  # "16." stays text for the stop list, "yes" stays text


def test_python_callers_get_the_same_checks():
    from instructforge import GenerateConfig, InputError, ModelConfig

    with pytest.raises(InputError, match=r"GenerateConfig: rouge_threshold: 1.5 is out of range \[0, 1\]"):
        GenerateConfig(rouge_threshold=1.5)
    with pytest.raises(InputError, match="rouge_threshold: expected number, got the text '0.1'"):
        GenerateConfig(rouge_threshold="0.1")
    with pytest.raises(InputError, match="num_machine_in_context must not exceed"):
        GenerateConfig(num_prompt_instructions=2, num_machine_in_context=3)
    with pytest.raises(InputError, match="concurrency: 0 is out of range"):
        ModelConfig(concurrency=0)
    assert ModelConfig(concurrency="auto").backend_options().adaptive_concurrency
    assert GenerateConfig(rouge_threshold=1).rouge_threshold == 1.0 and isinstance(
        GenerateConfig(rouge_threshold=1).rouge_threshold, float
    )


def test_api_and_cli_give_the_same_run(tmp_path, scripted):
    import instructforge as inf

    p = gen(tmp_path, scripted, "--rouge-threshold", "0.6", "--seed", "3", out="cli")
    assert p.returncode == 0, p.stderr
    run = inf.generate(
        out=tmp_path / "api",
        model=f"scripted:{scripted}",
        config=inf.GenerateConfig(num_instructions=2, rouge_threshold=0.6, seed=3),
    )
    cli = inf.Run(tmp_path / "cli")
    assert run.records() == cli.records() and len(run.records()) >= 1
    assert [c.instruction for c in run.candidates()] == [c.instruction for c in cli.candidates()]
    assert resolved(tmp_path, "api") == resolved(tmp_path, "cli")
    assert run.summary["accepted"] == 2 and run.stats.requests > 0
    ds = run.to_dataset()
    assert ds.column_names == ["instruction", "input", "output", "task_key", "is_classification"]
    assert len(ds) == len(run.records())
    assert run.export("messages", tmp_path / "m.jsonl") == len(ds)
    with pytest.raises(inf.InputError, match="not a run directory"):
        inf.Run(tmp_path / "nothing")


def test_config_show_lists_every_field(tmp_path):
    p = run_cli("config", "show", "generate", "--json")
    assert p.returncode == 0, p.stderr
    rows = {r["name"]: r for r in json.loads(p.stdout)["settings"]}
    import dataclasses

    from instructforge import GenerateConfig, ModelConfig

    assert set(rows) == {f.name for f in dataclasses.fields(GenerateConfig)} | {
        f.name for f in dataclasses.fields(ModelConfig)
    }
    r = rows["rouge_threshold"]
    assert (
        r["default"] == 0.7 and r["range"] == "[0, 1]" and r["flag"] == "--rouge-threshold" and "ROUGE-L" in r["help"]
    )
    assert all(r["help"] for r in rows.values())  # every field says what it does
    p = run_cli("config", "show", "generate")
    assert p.returncode == 0 and "rouge_threshold" in p.stdout
    p = run_cli("config", "show", "generat")
    assert p.returncode == 2 and "unknown command 'generat'" in p.stderr
