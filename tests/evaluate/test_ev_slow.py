"""One real SuperNI run with the embedded model (structure only: its answers are weak)."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli


@pytest.mark.slow
def test_superni_embedded_two_tasks(shared_data, tmp_path, isolated_cache):
    out = tmp_path / "eval"
    tasks = "task1612_sick_label_classification,task1159_bard_analogical_reasoning_containers"
    run_cli(
        "evaluate",
        "superni",
        "--tasks",
        str(shared_data / "superni"),
        "--model",
        "embedded",
        "--only",
        tasks,
        "--max-instances",
        "3",
        "--max-tokens",
        "16",
        "--out",
        str(out),
        env={"INSTRUCTFORGE_THREADS": "2"},
        check=True,
    )
    res = json.loads((out / "results.json").read_text())
    assert res["kind"] == "superni" and res["model"] == "embedded"
    assert set(res["tasks"]) == set(tasks.split(",")) and all(t["n"] == 3 for t in res["tasks"].values())
    assert 0.0 <= res["overall"]["rougeL"] <= 100.0 and 0.0 <= res["overall"]["exact_match"] <= 100.0
    assert res["generation"]["cache_misses"] == 6 and res["generation"]["completion_tokens"] > 0
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(isinstance(r["prediction"], str) for r in rows)
    # a second run is served from the call cache: no model call at all
    run_cli(
        "evaluate",
        "superni",
        "--tasks",
        str(shared_data / "superni"),
        "--model",
        "embedded",
        "--only",
        tasks,
        "--max-instances",
        "3",
        "--max-tokens",
        "16",
        "--out",
        str(out / "again"),
        check=True,
    )
    again = json.loads((out / "again" / "results.json").read_text())
    assert again["generation"]["cache_hits"] == 6 and again["overall"] == res["overall"]
