"""``instructforge induction score`` on the real benchmark files, with hand-made predictions,
and the one-line exit-2 errors for bad input."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli

pytestmark = pytest.mark.timeout(300)


def _preds(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def ii_data(shared_data):
    return shared_data / "instruction-induction"


def test_score_sum_json(tmp_path, ii_data):
    # sum: 1 = "0 47" -> 47 (right, with a trailing sentence), 2 = "0 61" -> 61 (wrong), 3 = "1 20" -> 21 (right)
    p = _preds(
        tmp_path / "p.jsonl",
        [
            {"id": "1", "prediction": " 47. The sum"},
            {"id": "2", "prediction": "60"},
            {"id": "3", "prediction": "21\n22"},
        ],
    )
    r = run_cli("induction", "score", "--data", str(ii_data), "--task", "sum", "--predictions", str(p), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"task": "sum", "n": 3, "accuracy": pytest.approx(2 / 3)}


def test_score_cause_and_effect_two_orders(tmp_path, ii_data):
    # example 1: cause "The child hurt their knee.", effect "The child started crying."
    p = _preds(
        tmp_path / "p.jsonl",
        [
            {"id": "1:ab", "prediction": "The child hurt their knee."},
            {"id": "1:ba", "prediction": "Sentence 2: the child hurt their knee"},
            {"id": "2:ab", "prediction": "I washed the car."},
        ],
    )
    r = run_cli(
        "induction", "score", "--data", str(ii_data), "--task", "cause_and_effect", "--predictions", str(p), "--json"
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["accuracy"] == pytest.approx(2 / 3)


def test_score_multi_answer_and_set_metrics(tmp_path, ii_data):
    # common_concept (token F1, best of all_common_concepts): "involve going" vs "involve going up" -> 0.8
    p = _preds(tmp_path / "c.jsonl", [{"id": "1", "prediction": "involve going"}])
    r = run_cli(
        "induction", "score", "--data", str(ii_data), "--task", "common_concept", "--predictions", str(p), "--json"
    )
    assert json.loads(r.stdout)["accuracy"] == pytest.approx(0.8)
    # taxonomy_animal (exact token set): order-free; 2nd answer misses "dog"
    p = _preds(
        tmp_path / "t.jsonl",
        [{"id": "1", "prediction": "bird, bear, kangaroo and beetle"}, {"id": "2", "prediction": "cow, bird"}],
    )
    r = run_cli(
        "induction", "score", "--data", str(ii_data), "--task", "taxonomy_animal", "--predictions", str(p), "--json"
    )
    assert json.loads(r.stdout) == {"task": "taxonomy_animal", "n": 2, "accuracy": 0.5}
    # the table output (no --json) names the metric
    r = run_cli(
        "-q", "induction", "score", "--data", str(ii_data), "--task", "taxonomy_animal", "--predictions", str(p)
    )
    assert r.returncode == 0 and "exact_set" in r.stdout


def _err(r):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_score_bad_input(tmp_path, ii_data):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    line = _err(run_cli("induction", "score", "--data", str(ii_data), "--task", "sum", "--predictions", str(empty)))
    assert f"{empty}:1: no predictions" in line
    bad = _preds(tmp_path / "bad.jsonl", [{"id": "1", "prediction": "1"}, {"id": "999", "prediction": "2"}])
    assert f"{bad}:2: unknown id" in _err(
        run_cli("induction", "score", "--data", str(ii_data), "--task", "sum", "--predictions", str(bad))
    )
    dup = _preds(tmp_path / "dup.jsonl", [{"id": "1", "prediction": "1"}, {"id": "1", "prediction": "2"}])
    assert f"{dup}:2: duplicate id" in _err(
        run_cli("induction", "score", "--data", str(ii_data), "--task", "sum", "--predictions", str(dup))
    )
    line = _err(
        run_cli("induction", "score", "--data", str(ii_data), "--task", "no_such_task", "--predictions", str(dup))
    )
    assert "unknown task 'no_such_task'" in line


def test_induce_bad_demos(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text('{"input": "a", "output": "A"}\n{"input": "b"}\n', encoding="utf-8")
    assert f'{f}:2: missing "output"' in _err(run_cli("induce", "--demos", str(f)))
    f.write_text('{"input": "a", "output": "A"}\n{"input": "b", "output": "B"}\n', encoding="utf-8")
    assert f"{f}:2: 2 demonstrations, fewer than k=5" in _err(run_cli("induce", "--demos", str(f)))
    f.write_text('{"input": "a", "output": "A"}\nnot json\n', encoding="utf-8")
    assert f"{f}:2: not valid JSON" in _err(run_cli("induce", "--demos", str(f)))


def test_evaluate_unknown_task(tmp_path, ii_data):
    line = _err(
        run_cli("induction", "evaluate", "--data", str(ii_data), "--tasks", "sum,nope", "--out", str(tmp_path / "o"))
    )
    assert "unknown task 'nope'" in line
    assert not (tmp_path / "o").exists()
