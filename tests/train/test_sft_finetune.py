"""finetune: data formats, bad files (FILE:LINE, exit 2), and a real SFT + LoRA smoke run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from instructforge.core.errors import InputError
from instructforge.train.sft import load_examples, to_trl

ALPACA = [
    {"instruction": "Give an antonym of the word.", "input": "cold", "output": "hot"},
    {"instruction": "Name a primary color.", "input": "", "output": "Red."},
    {"instruction": "Add the two numbers.", "input": "2 and 3", "output": "5"},
    {"instruction": "Say hello in French.", "input": "", "output": "Bonjour."},
]


def test_sft_alpaca_list(tmp_path):
    p = tmp_path / "a.json"
    p.write_text(json.dumps(ALPACA, indent=2))
    fmt, rows = load_examples(p)
    assert fmt == "alpaca" and rows == ALPACA
    trl = to_trl(rows, "chat")
    assert trl[0] == {
        "prompt": [{"role": "user", "content": "Give an antonym of the word.\n\ncold"}],
        "completion": [{"role": "assistant", "content": "hot"}],
    }
    assert to_trl(rows, "raw")[1] == {"prompt": "Name a primary color.", "completion": "Red."}


def test_sft_messages_and_prompt_completion(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text(
        json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]})
        + "\n\n"
    )
    fmt, rows = load_examples(m)
    assert fmt == "messages"
    assert to_trl(rows, "chat") == [
        {"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", "content": "Hello"}]}
    ]
    pc = tmp_path / "pc.jsonl"
    pc.write_text(json.dumps({"prompt": "Task: add 2 and 3\nOutput:\n", "completion": "5"}) + "\n")
    fmt, rows = load_examples(pc)
    assert fmt == "prompt-completion"
    assert to_trl(rows, "raw") == [{"prompt": "Task: add 2 and 3\nOutput:\n", "completion": "5"}]


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("a.json", '[\n  {"instruction": "x", "output": "y"},\n  {"instruction": "z"}\n]\n', "a.json:3"),
        ("b.json", '[\n  {"instruction": "x", "output": "y"},\n  {"instruction": "z", "output": }\n]\n', "b.json:3"),
        ("c.jsonl", '{"prompt": "a", "completion": "b"}\n{"prompt": "a"\n', "c.jsonl:2"),
        ("d.jsonl", '{"prompt": "a", "completion": "b"}\n{"messages": []}\n', "d.jsonl:2"),
        (
            "e.jsonl",
            '{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}\n',
            "e.jsonl:1",
        ),
        ("f.jsonl", '{"text": "plain"}\n', "f.jsonl:1"),
        ("g.jsonl", "\n", "g.jsonl:1"),
    ],
)
def test_sft_bad_files_name_the_line(tmp_path, name, text, where):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(InputError) as e:
        load_examples(p)
    assert str(e.value).startswith(f"{p.parent}/{where}:")


def test_sft_cli_bad_data_exits_2(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"prompt": "a", "completion": "b"}\nnot json\n')
    r = run_cli("finetune", "--data", str(p), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {p}:2: not valid JSON (Expecting value)"
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_sft_smoke_loss_down_and_loads(tmp_path, isolated_cache):
    from safetensors.torch import load_file

    from instructforge.train.sft import SFTSettings, finetune

    data = tmp_path / "train.json"
    data.write_text(json.dumps(ALPACA))
    out = tmp_path / "sft"
    s = finetune(
        data, out, model="embedded", cfg=SFTSettings(epochs=6, learning_rate=2e-3, batch_size=4, max_length=96, seed=0)
    )
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == s["steps"] == 6
    assert log[-1]["loss"] < log[0]["loss"]
    w = load_file(str(out / "adapter_model.safetensors"))
    assert any(float(v.abs().sum()) > 0 for k, v in w.items() if "lora_B" in k)  # B starts at zero
    assert Path(json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]).is_dir()
    r = run_cli(
        "ask",
        "--model",
        f"hf:{out}",
        "--no-cache",
        "--max-tokens",
        "4",
        "Name a primary color.",
        env={"INSTRUCTFORGE_THREADS": "1"},
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()


@pytest.mark.slow
def test_sft_merge_saves_full_model(tmp_path, isolated_cache, capsys):
    from instructforge.core import ui
    from instructforge.models.backends.local import load_hf_model
    from instructforge.train.sft import SFTSettings, finetune

    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": r["instruction"], "completion": r["output"]}) + "\n" for r in ALPACA))
    out = tmp_path / "merged"
    was_quiet = ui.is_quiet()
    ui.set_quiet(True)
    try:
        finetune(data, out, model="embedded", cfg=SFTSettings(max_steps=1, batch_size=2, max_length=64, merge=True))
    finally:
        ui.set_quiet(was_quiet)
    printed = capsys.readouterr()
    # --quiet: the Trainer's own log printing is off (the logs still go to train_log.jsonl)
    assert "'loss'" not in printed.out + printed.err and "train_runtime" not in printed.out + printed.err
    assert (out / "train_log.jsonl").read_text().strip()
    assert (out / "config.json").is_file() and not (out / "adapter_config.json").exists()
    model, tok = load_hf_model(out)
    assert model.config.model_type == "llama" and tok is not None
