"""End-to-end ``generate`` on the real embedded model (SmolLM2-135M), small N and short
max_tokens. Structure only (the model is weak): records exist with reasons, the stages ran,
and every export loads with ``datasets``."""

from __future__ import annotations

import json

import pytest
from si_helpers import records, run_cli


@pytest.mark.slow
def test_generate_embedded_end_to_end(tmp_path, isolated_cache):
    cfg = tmp_path / "small.yaml"
    # Short answers to fit the time budget; with 64 tokens most lists are cut, so keep the
    # items before the cut (Alpaca's code) instead of dropping whole answers. A cut instance
    # answer loses its last instance (the paper's code): 96 tokens leave room for one before it.
    cfg.write_text(
        "bootstrap_max_tokens: 64\ninstance_max_tokens: 96\npool_lag: 2\n"
        "max_empty_prompts: 6\ntruncated_policy: last_item\n"
    )
    out = tmp_path / "run"
    p = run_cli(
        "--quiet",
        "generate",
        "--out",
        str(out),
        "--num-instructions",
        "2",
        "--model",
        "embedded",
        "--config",
        str(cfg),
        "--seed",
        "1",
        env={"INSTRUCTFORGE_THREADS": "2"},
    )
    assert p.returncode == 0, p.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stage"] == "instances" and summary["num_seeds"] == 175
    cands = records(out, "candidate")
    assert cands and all(s in ("accepted", "rejected") for _, s, _ in cands)
    assert all(p_["reason"] for _, s, p_ in cands if s == "rejected")
    accepted = [k for k, s, _ in cands if s == "accepted"]
    assert all("is_classification" in p_ for _, s, p_ in cands if s == "accepted")
    assert [k for k, _, _ in records(out, "task")] == accepted  # every accepted instruction got its instances stage
    assert summary["stats"]["requests"] > 0 and summary["stats"]["completion_tokens"] > 0
    from datasets import load_from_disk

    n_inst = summary["instances"]
    assert n_inst == sum(len(p_["instances"]) for _, s, p_ in records(out, "task") if s == "accepted")
    for fmt, name in [("alpaca", "a.json"), ("messages", "m.jsonl"), ("prompt-completion", "p.jsonl"), ("hf", "hf")]:
        r = run_cli("export", str(out), "--format", fmt, "--out", str(tmp_path / name))
        assert r.returncode == 0, r.stderr
    assert len(load_from_disk(str(tmp_path / "hf"))) == n_inst
    assert len(json.loads((tmp_path / "a.json").read_text())) == n_inst
    for name in ("m.jsonl", "p.jsonl"):
        lines = (tmp_path / name).read_text().splitlines()
        assert len(lines) == n_inst and all(json.loads(line) for line in lines)
        if n_inst:
            from datasets import load_dataset

            assert len(load_dataset("json", data_files=str(tmp_path / name), split="train")) == n_inst
