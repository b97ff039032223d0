"""The shipped examples run: the Python API tour on the embedded model (slow), and the REFINE-AF
experiment file is valid (checked whole, every stage listed) without running its hour of work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli


@pytest.mark.slow
def test_api_quickstart_runs_on_the_embedded_model(tmp_path, isolated_cache):
    out = tmp_path / "qs"
    p = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "api" / "quickstart.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "accepted 3 of" in p.stdout and "records ->" in p.stdout and "ask:" in p.stdout
    assert (out / "si" / "config.yaml").is_file() and (out / "si.messages.jsonl").is_file()
    assert (out / "si" / "score" / "summary.json").is_file()


def test_refine_af_experiment_file_is_valid(tmp_path):
    f = ROOT / "examples" / "refine_af_small" / "experiment.yaml"
    p = run_cli("experiment", str(f), "--out", str(tmp_path / "exp"), "--dry-run")
    assert p.returncode == 0, p.stderr
    for stage in ("si", "refined", "raf", "model_si", "model_raf", "eval_base", "si_vs_raf", "report"):
        assert stage in p.stderr
    assert not Path(tmp_path / "exp").exists()
