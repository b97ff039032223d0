"""finetune's settings: SFTConfig from flags, --set and config files, checked before anything is
written; the CLI runs api.train.finetune with the same settings."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from test_sft_finetune import ALPACA

from conftest import run_cli
from instructforge.core.errors import InputError
from instructforge.core.settings import as_dict
from instructforge.train.sft import SFTConfig, SFTSettings


@pytest.fixture
def data(tmp_path):
    p = tmp_path / "train.json"
    p.write_text(json.dumps(ALPACA))
    return p


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "epochs: 1\nlearning_rat: 0.1\n",
            2,
            "unknown setting 'learning_rat' for finetune (did you mean 'learning_rate'?)",
        ),
        ("epochs: 1\nbatch_size: 2.5\n", 2, "batch_size: expected integer, got 2.5"),
        ("merge: 'yes'\n", 1, "merge: expected true/false, got the text 'yes'"),
        ("template: chatml\n", 1, "template: the text 'chatml' is not one of chat, raw"),
        ("epochs: 0\n", 1, "epochs: 0 is out of range (0, inf]"),
        ("seed: 1\nmax_length: 8\n", 2, "max_length: 8 is out of range [16, inf]"),
        ("finetune:\n  lora_dropout: 1.5\n", 2, "lora_dropout: 1.5 is out of range [0, 1]"),
    ],
)
def test_sft_config_file_errors_name_file_and_line(tmp_path, data, text, line, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    p = run_cli("finetune", "--data", str(data), "--out", str(tmp_path / "out"), "--config", str(cfg))
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == f"error: {cfg}:{line}: {message}"
    assert not (tmp_path / "out").exists()


def test_sft_bad_flags_exit_2(tmp_path, data):
    out = tmp_path / "out"
    p = run_cli("finetune", "--data", str(data), "--out", str(out), "--lr", "0")
    assert p.returncode == 2 and p.stderr.strip() == "error: --lr 0: learning_rate: 0 is out of range (0, inf]"
    p = run_cli("finetune", "--data", str(data), "--out", str(out), "--max-steps", "0")
    assert p.returncode == 2 and "max_steps must be -1 (all epochs) or at least 1" in p.stderr
    p = run_cli("finetune", "--data", str(data), "--out", str(out), "--model", "openai:gpt")
    assert p.returncode == 2 and "finetune trains a local model" in p.stderr
    assert not out.exists()


def test_sft_python_config_is_checked_too():
    assert SFTSettings is SFTConfig
    with pytest.raises(InputError, match=r"SFTConfig: batch_size: 0 is out of range \[1, inf\]"):
        SFTConfig(batch_size=0)
    with pytest.raises(InputError, match="SFTConfig: template: the text 'chatml' is not one of chat, raw"):
        SFTConfig(template="chatml")
    assert SFTConfig(epochs=1).epochs == 1.0 and isinstance(SFTConfig(epochs=1).epochs, float)


class _Stop(Exception):
    pass


@pytest.fixture
def captured(monkeypatch):
    """What the CLI passes to api.train.finetune (the call stops there: nothing is trained)."""
    import instructforge.api.train as api

    calls: list[dict] = []

    def record(data, *, out, model="embedded", config=None):
        calls.append({"data": str(data), "model": model, "config": as_dict(config)})
        raise _Stop

    monkeypatch.setattr(api, "finetune", record)
    return calls


def _invoke(*args: str) -> None:
    from instructforge.cli.main import cli

    r = CliRunner().invoke(cli, list(args))
    assert isinstance(r.exception, _Stop), r.output


def test_sft_flags_set_and_config_file_resolve_alike(tmp_path, captured):
    base = ("finetune", "--data", "d.json", "--out", "o", "--model", "hf:m")
    # 1e-3: the CLI contract's spelling of --lr, a number for the config reader too
    _invoke(
        *base, "--epochs", "3", "--lr", "1e-3", "--batch-size", "2", "--template", "raw", "--merge", "--max-steps", "5"
    )
    _invoke(
        *base,
        "--set",
        "epochs=3",
        "--set",
        "learning_rate=1E-3",
        "--set",
        "batch_size=2",
        "--set",
        "template=raw",
        "--set",
        "merge=true",
        "--set",
        "max_steps=5",
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text("epochs: 3\nlearning_rate: 0.001\nbatch_size: 2\ntemplate: raw\nmerge: true\nmax_steps: 5\n")
    _invoke(*base, "--config", str(cfg))
    assert captured[0] == captured[1] == captured[2]
    assert captured[0]["config"] == as_dict(
        SFTConfig(epochs=3, learning_rate=1e-3, batch_size=2, template="raw", merge=True, max_steps=5)
    )
    assert captured[0]["model"] == "hf:m"


def test_sft_list_setting_and_precedence(tmp_path, captured):
    glob, own = tmp_path / "g.yaml", tmp_path / "o.yaml"
    glob.write_text("finetune:\n  lora_r: 4\n  seed: 4\n  epochs: 4\n")
    own.write_text("seed: 5\nepochs: 5\nlora_target_modules: [q_proj, v_proj]\n")
    _invoke(
        "--config",
        str(glob),
        "finetune",
        "--data",
        "d.json",
        "--out",
        "o",
        "--config",
        str(own),
        "--set",
        "epochs=6",
        "--epochs",
        "7",
    )
    c = captured[0]["config"]
    assert (c["lora_r"], c["seed"], c["epochs"], c["lora_target_modules"]) == (4, 5, 7.0, ["q_proj", "v_proj"])
    _invoke("finetune", "--data", "d.json", "--out", "o", "--set", "lora_target_modules=[q_proj, v_proj]")
    assert captured[1]["config"]["lora_target_modules"] == ["q_proj", "v_proj"]


@pytest.mark.slow
def test_sft_cli_runs_the_api(tmp_path, data, isolated_cache):
    """The same settings through the CLI and through api.train.finetune: the same config.yaml."""
    from instructforge.api.train import finetune
    from instructforge.core import ui

    p = run_cli(
        "--quiet",
        "finetune",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "cli"),
        "--max-steps",
        "1",
        "--batch-size",
        "2",
        "--max-length",
        "64",
        "--set",
        "lora_r=4",
        "--lr",
        "1e-3",
        env={"INSTRUCTFORGE_THREADS": "2"},
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == str(tmp_path / "cli")
    was_quiet = ui.is_quiet()
    ui.set_quiet(True)
    try:
        out = finetune(
            data,
            out=tmp_path / "api",
            config=SFTConfig(max_steps=1, batch_size=2, max_length=64, lora_r=4, learning_rate=1e-3),
        )
    finally:
        ui.set_quiet(was_quiet)
    assert out == tmp_path / "api" and (out / "adapter_model.safetensors").is_file()
    cli_cfg = yaml.safe_load((tmp_path / "cli" / "config.yaml").read_text())
    assert cli_cfg == yaml.safe_load((out / "config.yaml").read_text())
    assert cli_cfg["max_steps"] == 1 and cli_cfg["lora_r"] == 4 and cli_cfg["stage"] == "finetune"
    assert json.loads((out / "train_summary.json").read_text())["steps"] == 1
