"""Reports of evaluation dirs (results.json with a "kind") and of compare JSON files."""

from __future__ import annotations

import json

import pytest
from rp_helpers import compare_results, induction_results, run_cli, superni_results, user_results

from instructforge.reports import build_report

CASES = {  # kind -> (results, charts on the page)
    "induction": (induction_results, 2),
    "superni": (superni_results, 2),
    "user-oriented": (user_results, 1),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_eval_dir_report(kind, tmp_path):
    make, charts = CASES[kind]
    d = tmp_path / "eval"
    d.mkdir()
    (d / "results.json").write_text(json.dumps(make()))
    p = run_cli("--quiet", "report", str(d))  # default --out: inside the dir
    assert p.returncode == 0, p.stderr
    html = (d / "report.html").read_text()
    data = json.loads((d / "report.json").read_text())
    assert data["kind"] == kind and data["charts"] == charts == html.count('class="chart"')
    assert data["model"] == "embedded"


def test_eval_numbers(tmp_path):
    for name, make in (("ind", induction_results), ("sni", superni_results), ("uo", user_results)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(make()))
        build_report(tmp_path / name, tmp_path / f"{name}.html")
    ind = json.loads((tmp_path / "ind.json").read_text())
    assert ind["tasks"]["larger_animal"]["human_execution_accuracy"] == pytest.approx(0.8)
    assert list(ind["tasks"]) == sorted(induction_results()["tasks"])
    sni = json.loads((tmp_path / "sni.json").read_text())
    assert sni["categories"]["Word Analogy"] == {"rougeL": 44.0, "exact_match": 40.0, "n_tasks": 1}
    uo = json.loads((tmp_path / "uo.json").read_text())
    assert uo["distribution"] == {"A": 10, "B": 30, "C": 80, "D": 132}
    assert "132 (52.4%)" in (tmp_path / "uo.html").read_text()


def test_compare_file_and_dir(tmp_path):
    d = tmp_path / "cmp"
    d.mkdir()
    (d / "compare_vs_base.json").write_text(json.dumps(compare_results()))
    for src in (d / "compare_vs_base.json", d):
        out = build_report(src, tmp_path / "c.html")
        data = json.loads((tmp_path / "c.json").read_text())
        assert data["counts"] == {"win": 3, "tie": 1, "loss": 1}
        assert data["share"] == {"win": 0.6, "tie": 0.2, "loss": 0.2}
        assert list(data["tasks"]) == ["t4", "t1", "t5", "t3", "t2"]  # sorted by delta, best first
        html = out.read_text()
        assert data["charts"] == 2 and "win 95% CI 20.0-100.0%" in html


def test_bad_results_exit_2_before_writing(tmp_path):
    bad = {
        "superni-no-tasks": {"kind": "superni", "overall": {}},
        "unknown-kind": {"kind": "mmlu", "tasks": {}},
        "uo-bad-dist": {"kind": "user-oriented", "distribution": {"A": "many"}},
    }
    for name, obj in bad.items():
        d = tmp_path / name
        d.mkdir()
        (d / "results.json").write_text(json.dumps(obj))
        p = run_cli("report", str(d), "--out", str(tmp_path / "x.html"))
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, (name, p.stderr)
        assert "results.json" in p.stderr
    assert not (tmp_path / "x.html").exists()
