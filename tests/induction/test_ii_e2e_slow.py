"""``induction evaluate`` on two real benchmark tasks with the real embedded model (slow).

Checks structure and metric sanity only: the small model's instructions are weak."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from instructforge.induction.metrics import mean, score


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_evaluate_two_real_tasks_embedded(tmp_path, shared_data, isolated_cache):
    data = shared_data / "instruction-induction"
    out = tmp_path / "out"
    r = run_cli(
        "induction",
        "evaluate",
        "--data",
        str(data),
        "--model",
        "embedded",
        "--out",
        str(out),
        "--tasks",
        "translation_en-es,cause_and_effect",
        "--num-prompts",
        "2",
        "--max-test",
        "2",
        "--save-predictions",
    )
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["kind"] == "induction" and res["model"].startswith("embedded")
    assert set(res["tasks"]) == {"translation_en-es", "cause_and_effect"}
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    es = json.loads((data / "raw" / "execute" / "translation_en-es.json").read_text())["examples"]
    for name, t in res["tasks"].items():
        assert t["n_test"] == (4 if name == "cause_and_effect" else 2)  # two sentence orders per example
        assert sum(i["count"] for i in t["instructions"]) == 2
        for v in (t["execution_accuracy"], t["human_execution_accuracy"], t["bertscore"]):
            assert 0.0 <= v <= 1.0
        assert t["n_gold"] == len(t["human_instructions"]) > 0
        # the weighted task score is recomputable from its instructions
        total = sum(i["count"] for i in t["instructions"])
        assert t["execution_accuracy"] == pytest.approx(
            sum(i["accuracy"] * i["count"] for i in t["instructions"]) / total
        )
        assert t["human_execution_accuracy"] == pytest.approx(mean(h["accuracy"] for h in t["human_instructions"]))
    # every gold annotation's accuracy is recomputable from the saved predictions
    for h in res["tasks"]["translation_en-es"]["human_instructions"]:
        rows = [p for p in preds if p["task"] == "translation_en-es" and p["instruction"] == h["text"]]
        assert len(rows) == 2
        got = mean(score(p["prediction"], [es[p["id"]]["output"], *es[p["id"]]["possible_translations"]]) for p in rows)
        assert got == pytest.approx(h["accuracy"], abs=1e-6)
    o = res["overall"]
    assert o["execution_accuracy"] == pytest.approx(mean(t["execution_accuracy"] for t in res["tasks"].values()))
    assert "| cause_and_effect |" in (out / "table.md").read_text()
