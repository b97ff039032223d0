"""compare: hand-made results.json pairs with known win shares and bootstrap intervals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from instructforge.core.errors import InputError
from instructforge.evaluate.compare import CompareConfig, compare


def eval_dir(path: Path, scores: dict[str, float], kind: str = "superni", metric: str = "rougeL") -> Path:
    path.mkdir(parents=True)
    tasks = {t: {metric: v, "exact_match": 0.0, "n": 100, "category": "c"} for t, v in scores.items()}
    (path / "results.json").write_text(json.dumps({"kind": kind, "model": path.name, "tasks": tasks}))
    return path


def test_win_tie_loss_and_default_output_via_cli(tmp_path):
    a = eval_dir(tmp_path / "self_instruct", {"t1": 10.0, "t2": 20.0, "t3": 30.0, "t4": 40.0, "only_a": 5.0})
    b = eval_dir(tmp_path / "refine", {"t1": 15.0, "t2": 20.0, "t3": 25.0, "t4": 50.0})
    r = run_cli("compare", str(a), str(b), "--bootstrap", "2000", check=True)
    res = json.loads((b / "compare_vs_self_instruct.json").read_text())
    assert res["kind"] == "compare" and res["metric"] == "rougeL" and res["n_tasks"] == 4
    assert (res["win"], res["tie"], res["loss"]) == (0.5, 0.25, 0.25)
    assert res["mean_delta"] == 2.5
    assert res["tasks"]["t4"] == {"a": 40.0, "b": 50.0, "delta": 10.0, "outcome": "win"}
    assert res["tasks"]["t3"]["outcome"] == "loss" and res["tasks"]["t2"]["outcome"] == "tie"
    assert res["only_in_a"] == ["only_a"]
    lo, hi = res["ci95"]["mean_delta"]
    # resampling 4 deltas (-5, 0, 5, 10): the mean lies in [-5, 10] and the interval holds 2.5
    assert -5 <= lo <= 2.5 <= hi <= 10
    assert "B wins 50.0%" in r.stdout


def test_tie_threshold(tmp_path):
    a = eval_dir(tmp_path / "a", {"t1": 10.0, "t2": 20.0, "t3": 30.0})
    b = eval_dir(tmp_path / "b", {"t1": 10.4, "t2": 19.5, "t3": 31.0})
    res = compare(a, b, CompareConfig(tie_threshold=0.5, bootstrap=0))
    assert [res["tasks"][t]["outcome"] for t in ("t1", "t2", "t3")] == ["tie", "tie", "win"]
    assert res["ci95"] is None


def test_constant_improvement_gives_degenerate_interval(tmp_path):
    a = eval_dir(tmp_path / "a", {f"t{i}": float(i) for i in range(10)})
    b = eval_dir(tmp_path / "b", {f"t{i}": float(i) + 2 for i in range(10)})
    res = compare(a, b, CompareConfig(bootstrap=500))
    assert res["win"] == 1.0 and res["ci95"] == {"mean_delta": [2.0, 2.0], "win": [1.0, 1.0]}


def test_bootstrap_matches_binomial_quantiles(tmp_path):
    """20 tasks, 10 improved by 1 and 10 worsened by 1: a bootstrap win count is
    Binomial(20, 0.5), whose 2.5% / 97.5% quantiles are 6 and 14 (P(X<=5)=0.021,
    P(X<=6)=0.058), so the win interval is [0.30, 0.70] and the mean-delta one [-0.4, 0.4]."""
    a = eval_dir(tmp_path / "a", {f"t{i:02d}": 50.0 for i in range(20)})
    b = eval_dir(tmp_path / "b", {f"t{i:02d}": 51.0 if i % 2 else 49.0 for i in range(20)})
    res = compare(a, b, CompareConfig(bootstrap=10000, seed=0))
    assert res["win"] == 0.5 and res["mean_delta"] == 0.0
    assert res["ci95"]["win"] == pytest.approx([0.30, 0.70])
    assert res["ci95"]["mean_delta"] == pytest.approx([-0.4, 0.4])
    # same seed, same interval; another seed may differ only within the binomial's lattice
    assert compare(a, b, CompareConfig(bootstrap=10000, seed=0))["ci95"] == res["ci95"]


def test_induction_dirs_use_execution_accuracy(tmp_path):
    a = eval_dir(tmp_path / "a", {"sum": 0.2, "antonyms": 0.5}, kind="induction", metric="execution_accuracy")
    b = eval_dir(tmp_path / "b", {"sum": 0.9, "antonyms": 0.4}, kind="induction", metric="execution_accuracy")
    out = tmp_path / "cmp.json"
    run_cli("compare", str(a), str(b), "--out", str(out), "--bootstrap", "100", check=True)
    res = json.loads(out.read_text())
    assert res["metric"] == "execution_accuracy" and res["win"] == 0.5 and res["loss"] == 0.5
    assert res["tasks"]["sum"]["delta"] == pytest.approx(0.7)


def test_bad_inputs_exit_2(tmp_path):
    a = eval_dir(tmp_path / "a", {"t1": 1.0})
    b = eval_dir(tmp_path / "b", {"t2": 1.0})
    ind = eval_dir(tmp_path / "ind", {"t1": 1.0}, kind="induction", metric="execution_accuracy")
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, msg in [
        ((a, b), "no task in common"),
        ((a, ind), "cannot be compared"),
        ((a, empty), "results.json: not found"),
    ]:
        r = run_cli("compare", str(args[0]), str(args[1]))
        assert r.returncode == 2 and msg in r.stderr, r.stderr
    with pytest.raises(InputError, match='no task has a numeric "bleu"'):
        compare(a, a, CompareConfig(metric="bleu"))
